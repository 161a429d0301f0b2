"""Rate limits on the endpoints people and clients call, and the moving windows that count them."""

from __future__ import annotations

from flask import Flask

from authserver.ratelimit import limits


def init_app(app: Flask) -> None:
    limits.init_app(app)

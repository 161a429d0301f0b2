"""Security rules: passwords, the sign-in sequence, lockout, the second factor, recognised
devices, safe redirect targets, at-rest encryption."""

from __future__ import annotations

from flask import Flask

from authserver.security import crypto, devices


def init_app(app: Flask) -> None:
    # The key ring is built once per app: TOTP secrets need it as much as signing keys do.
    crypto.init_app(app)
    devices.init_app(app)

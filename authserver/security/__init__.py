"""Security rules: passwords, accounts, lockout, rate limits, at-rest encryption (later MFA)."""

from __future__ import annotations

from flask import Flask

from authserver.security import crypto, devices, rate_limits


def init_app(app: Flask) -> None:
    # The key ring is built once per app: TOTP secrets will need it as much as signing keys do.
    crypto.init_app(app)
    devices.init_app(app)
    rate_limits.init_app(app)

"""Recognised browsers: OWASP's "device cookie", so that lockout cannot lock an owner out.

A browser that has signed in to an account successfully holds a signed device cookie naming a
random device id for that account. Lockout (security/lockout.py) gives such a browser a failure
counter of its own, so an attacker guessing passwords elsewhere cannot lock it out, and a
stolen cookie is worth only that device's small quota.

The cookie is ``authserver_device`` (``__Host-authserver_device`` when cookies are secure):
HttpOnly, SameSite=Strict (only our own sign-in forms need it), Path=/, and it holds an
itsdangerous-signed list of ``[subject, device id]`` pairs, one per account signed in to from
this browser, newest last. The signature stops forged ids; the database row behind each id holds
the counter, so a replayed old cookie cannot reset it. Every successful sign-in issues a new id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app, g, has_request_context, request
from flask.wrappers import Response
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete, select

from authserver.config import app_settings
from authserver.edges.surfaces import Surface, hooks_for
from authserver.extensions import db
from authserver.models import LoginDevice, User

COOKIE_NAME = "authserver_device"
SECURE_COOKIE_NAME = "__Host-" + COOKIE_NAME
# STYLE.md: tokens for different purposes never share a key or salt. Flask's session cookie,
# Flask-WTF's CSRF tokens and anything else signed with SECRET_KEY use other salts.
COOKIE_SALT = "authserver.device-cookie.v1"
# How long a browser stays recognised after its last successful sign-in.
DEVICE_LIFETIME = timedelta(days=180)
# Shared computers: remember a handful of accounts, forgetting the oldest first.
MAX_REMEMBERED_ACCOUNTS = 5
DEVICE_ID_BYTES = 32
_PENDING = "authserver_device_cookie_change"


@dataclass(frozen=True)
class _CookieChange:
    value: str


def cookie_name(app: Flask) -> str:
    settings = app_settings(app)
    secure = settings.secure_cookies or settings.is_production
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=COOKIE_SALT)


def remembered_devices() -> dict[str, str]:
    """Subject -> device id, from this request's device cookie; empty if absent or not ours."""
    if not has_request_context():
        return {}
    raw = request.cookies.get(cookie_name(current_app))
    if not raw:
        return {}
    try:
        payload = _serializer().loads(raw, max_age=int(DEVICE_LIFETIME.total_seconds()))
    except BadData:
        return {}  # forged, tampered, expired or signed with a retired secret key
    if not isinstance(payload, list):
        return {}
    return {
        entry[0]: entry[1]
        for entry in payload
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(p, str) for p in entry)
    }


def find_device_id(user: User) -> str | None:
    """The device id this browser holds for ``user`` (signature checked), or None.

    Whether the id is still live is the database's to say: see :func:`find_device`.
    """
    return remembered_devices().get(user.subject)


def find_device(user: User, device_id: str | None, *, now: datetime) -> LoginDevice | None:
    """The live device record behind ``device_id`` for this user, or None."""
    if device_id is None:
        return None
    return db.session.scalars(
        select(LoginDevice).where(
            LoginDevice.device_id == device_id,
            LoginDevice.user_id == user.id,
            LoginDevice.expires_at > now,
        )
    ).first()


def remember_device(user: User, *, now: datetime, replacing: str | None) -> str:
    """After a successful sign-in: a fresh device id for this browser and account.

    The id the browser held before (``replacing``) is deleted, so each cookie value works for
    one sign-in's worth of trust (OWASP: issue a new device cookie at every success). Expired
    records of this user go too. The caller commits; the cookie is written after the request.
    """
    stale = LoginDevice.expires_at <= now
    if replacing is not None:
        stale = stale | (LoginDevice.device_id == replacing)
    db.session.execute(delete(LoginDevice).where(LoginDevice.user_id == user.id, stale))
    device_id = secrets.token_urlsafe(DEVICE_ID_BYTES)
    db.session.add(
        LoginDevice(
            device_id=device_id,
            user_id=user.id,
            created_at=now,
            expires_at=now + DEVICE_LIFETIME,
        )
    )
    entries = [
        [subject, known]
        for subject, known in remembered_devices().items()
        if subject != user.subject
    ]
    entries.append([user.subject, device_id])
    setattr(g, _PENDING, _CookieChange(_serializer().dumps(entries[-MAX_REMEMBERED_ACCOUNTS:])))
    return device_id


def apply_cookie_change(response: Response) -> Response:
    """after_request: write the device cookie a sign-in issued during this request."""
    change: _CookieChange | None = g.pop(_PENDING, None)
    if change is None:
        return response
    name = cookie_name(current_app)
    response.set_cookie(
        name,
        change.value,
        max_age=int(DEVICE_LIFETIME.total_seconds()),
        path="/",
        secure=name == SECURE_COOKIE_NAME,
        httponly=True,
        samesite="Strict",
    )
    return response


def forget_cookie_change(_error: BaseException | None = None) -> None:
    """teardown_request: a change no response carried must not leak into the next request."""
    g.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    # A device cookie is issued by a sign-in, which only a page does.
    people = hooks_for(app, Surface.PEOPLE)
    people.after_request(apply_cookie_change)
    people.teardown_request(forget_cookie_change)

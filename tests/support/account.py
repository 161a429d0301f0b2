"""Driving the account page like a browser: read the page, post one of its forms back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from authserver.accounts.lifecycle import find_user_by_email
from authserver.extensions import db
from authserver.models import User
from authserver.models.audit import AuditEvent
from authserver.models.tokens import Consent, RefreshToken
from authserver.sessions.service import session_store
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD
from tests.support.web import csrf_token, sign_in

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def browser(app: Flask, *, user_agent: str = FIREFOX_LINUX, ip: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    return client


def signed_in_browser(
    app: Flask,
    *,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    user_agent: str = FIREFOX_LINUX,
    ip: str = "127.0.0.1",
) -> FlaskClient:
    client = browser(app, user_agent=user_agent, ip=ip)
    response = sign_in(client, email, password)
    assert response.status_code == 303, response.text
    return client


def submit(
    client: FlaskClient, path: str, data: dict[str, str], *, with_csrf: bool = True
) -> TestResponse:
    """POST one of the account page's forms, with the CSRF token the page carries.

    The response is closed, as a WSGI server closes it once sent: mail sent after the response
    (the password-changed notice) has gone out when this returns.
    """
    fields = dict(data)
    if with_csrf:
        fields["csrf_token"] = csrf_token(client.get("/account").text)
    return client.post(
        path, data=fields, headers={"Referer": "http://localhost/account"}, buffered=True
    )


def is_signed_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


@dataclass(frozen=True)
class Snapshot:
    """Everything an account form could change, to show that a refused one changed nothing."""

    name: str | None
    password_hash: str
    tokens_valid_after: datetime | None
    open_sessions: int
    consents: int
    revoked_refresh_tokens: int
    audit_events: int


def snapshot(email: str = DEFAULT_EMAIL) -> Snapshot:
    db.session.expire_all()
    user = find_user_by_email(email)
    assert user is not None

    def count(statement: object) -> int:
        return int(db.session.scalar(statement) or 0)  # type: ignore[call-overload]

    return Snapshot(
        name=user.name,
        password_hash=user.password_hash,
        tokens_valid_after=user.tokens_valid_after,
        open_sessions=len(session_store().list_for_user(user.id, now=datetime.now(UTC))),
        consents=count(select(func.count(Consent.id)).where(Consent.user_id == user.id)),
        revoked_refresh_tokens=count(
            select(func.count(RefreshToken.id)).where(RefreshToken.revoked_at.is_not(None))
        ),
        audit_events=count(select(func.count(AuditEvent.id))),
    )


def audit_tags(outcome: str | None = None) -> list[str]:
    query = select(AuditEvent.event).order_by(AuditEvent.id)
    if outcome is not None:
        query = query.where(AuditEvent.outcome == outcome)
    return list(db.session.scalars(query))


def the_user(email: str = DEFAULT_EMAIL) -> User:
    db.session.expire_all()
    user = find_user_by_email(email)
    assert user is not None
    return user


def read_outbox(folder: Path) -> list[Message]:
    return [message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]

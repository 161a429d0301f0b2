"""The data export: the account page's download and `authserver user export`, one document.

Driven over HTTP (the Flask test client) and through the installed CLI in a subprocess, on
every database backend and session store. The clock is frozen so the document can be
compared whole, field by field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent, LoginDevice, RecoveryCode, RefreshToken
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import FIREFOX_LINUX, signed_in_browser, submit, the_user
from tests.support.cli import run_authserver
from tests.support.mfa import Enrolment, enrol, frozen_clock
from tests.support.oauth import Pkce, RelyingParty, exchange_code, make_relying_party, obtain_code

T0 = datetime(2031, 5, 6, 7, 8, 1, tzinfo=UTC)
SCOPE = "openid profile email offline_access"


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def site(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    """The app on an empty database (`app` emptied it)."""
    built = make_app()
    with built.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        yield built


@dataclass
class History:
    """What a person did before asking for their data: every secret they were handed."""

    client: FlaskClient
    rp: RelyingParty
    enrolment: Enrolment
    tokens: dict[str, Any]


def live_a_little(site: Flask, advance: Callable[[float], None]) -> History:
    """Sign in (T0), set up an authenticator (T0+5s), connect an app (T0+10s)."""
    make_user(name="Alice")
    client = signed_in_browser(site)
    advance(5)
    enrolment = enrol(client)
    advance(5)
    rp = make_relying_party(name="Calendar")
    pkce = Pkce()
    response = exchange_code(client, rp, obtain_code(client, rp, pkce, scope=SCOPE), pkce)
    assert response.status_code == 200, response.text
    return History(client, rp, enrolment, response.json)


def download(client: FlaskClient) -> tuple[Any, str]:
    response = submit(client, "/account/export", {})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.mimetype == "application/json"
    return response.json, response.text


def stored_audit_rows(subject: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.user_subject == subject).order_by(AuditEvent.id)
    )
    return [
        {
            "occurred_at": iso(row.occurred_at),
            "event": row.event,
            "outcome": row.outcome,
            "client_id": row.client_id,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "request_id": row.request_id,
            "detail": row.detail,
        }
        for row in rows
    ]


def test_the_download_holds_exactly_what_we_keep(site: Flask) -> None:
    with frozen_clock(T0) as clock:
        history = live_a_little(site, clock.advance)
        clock.advance(10)
        document, _ = download(history.client)

    db.session.rollback()
    user = the_user()
    enrolled, connected = T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)
    session = {"device": "Firefox on Linux", "user_agent": FIREFOX_LINUX, "ip": "127.0.0.1"}
    assert document == {
        "format": "authserver.account-export.v1",
        "exported_at": iso(T0 + timedelta(seconds=20)),
        "account": {
            "subject": user.subject,
            "email": DEFAULT_EMAIL,
            "email_verified": False,
            "email_verified_at": None,
            "name": "Alice",
            "language": "en",
            "created_at": iso(T0),
            "updated_at": iso(T0),
            "first_signed_in_at": iso(T0),
            "disabled": False,
            "locked_until": None,
            "roles": [],
        },
        "mfa": {"enabled": True, "enabled_at": iso(enrolled), "recovery_codes_left": 10},
        "sessions": [
            # The sign-in, renewed in place when the authenticator was set up: one session,
            # stepped up (sessions/service.py start_session), with the new methods and times.
            {
                **session,
                "signed_in_at": iso(enrolled),
                "last_seen_at": iso(enrolled),
                "expires_at": iso(enrolled + timedelta(hours=12)),
                "signed_out_at": None,
                "methods": ["pwd", "otp"],
                "active": True,
            },
        ],
        "consents": [
            {
                "client_id": history.rp.client_id,
                "client_name": "Calendar",
                "scopes": SCOPE.split(),
                "granted_at": iso(connected),
            }
        ],
        "refresh_grants": [
            {
                "client_id": history.rp.client_id,
                "client_name": "Calendar",
                "scopes": SCOPE.split(),
                "created_at": iso(connected),
                "last_refreshed_at": iso(connected),
                "expires_at": iso(connected + timedelta(days=30)),
                "revoked_at": None,
                "active": True,
            }
        ],
        "recognised_browsers": [
            {
                "recognised_since": iso(T0),
                "expires_at": iso(T0 + timedelta(days=180)),
                "locked_until": None,
            }
        ],
        "passkeys": [],
        "audit_events": stored_audit_rows(user.subject)[:-1],  # the last is the export itself
    }
    events = [
        (row["event"], row["outcome"], row["client_id"], row["ip"], row["user_agent"])
        for row in document["audit_events"]
    ]
    client_id = history.rp.client_id
    assert events == [
        ("user:login", "success", None, "127.0.0.1", FIREFOX_LINUX),
        ("user:mfa:enrol", "success", None, "127.0.0.1", FIREFOX_LINUX),
        ("consent:give", "success", client_id, "127.0.0.1", FIREFOX_LINUX),
        ("token:issue", "success", client_id, "127.0.0.1", FIREFOX_LINUX),
    ]
    assert all(row["request_id"] for row in document["audit_events"])


def test_the_download_holds_no_secret(site: Flask) -> None:
    with frozen_clock(T0) as clock:
        history = live_a_little(site, clock.advance)
        _, text = download(history.client)

    db.session.rollback()
    user = the_user()
    cookie = history.client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    secrets_held = [
        DEFAULT_PASSWORD,
        user.password_hash,
        history.enrolment.authenticator.secret,
        *history.enrolment.recovery_codes,
        *(code.replace("-", "") for code in history.enrolment.recovery_codes),
        *db.session.scalars(select(RecoveryCode.code_hash)),
        history.tokens["access_token"],
        history.tokens["id_token"],
        history.tokens["refresh_token"],
        *db.session.scalars(select(RefreshToken.token_hash)),
        *db.session.scalars(select(LoginDevice.device_id)),
        cookie.value,
    ]
    assert [secret for secret in secrets_held if secret in text] == []
    assert "password" not in text and "secret" not in text


def test_the_cli_prints_the_same_document(site: Flask, tmp_path: Path) -> None:
    # Real time here: the command runs in another process, where the clock is not frozen.
    history = live_a_little(site, lambda seconds: None)
    from_page, page_text = download(history.client)

    result = run_authserver(site, tmp_path, "user", "export", DEFAULT_EMAIL.upper())

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('{\n  "account": {')
    from_cli = json.loads(result.stdout)
    # The same bytes for the same document; only the clock and the audit trail moved on, and
    # the trail now ends with the page's own export.
    assert result.stdout == json.dumps(from_cli, indent=2, sort_keys=True) + "\n"
    assert page_text == json.dumps(from_page, indent=2, sort_keys=True) + "\n"
    *earlier_rows, page_export_row = from_cli.pop("audit_events")
    assert earlier_rows == from_page.pop("audit_events")
    exported = [datetime.fromisoformat(each.pop("exported_at")) for each in (from_page, from_cli)]
    assert exported == sorted(exported)
    assert from_cli == from_page
    assert page_export_row["event"] == "user:data-export"
    assert page_export_row["detail"] == {"via": "account-page"}
    db.session.rollback()
    [cli_row] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "user:data-export", AuditEvent.ip.is_(None))
    )
    assert (cli_row.detail, cli_row.user_subject) == ({"via": "cli"}, the_user().subject)


def test_the_download_needs_a_signed_in_browser_and_a_csrf_token(site: Flask) -> None:
    make_user()
    client = signed_in_browser(site)
    refused = client.post("/account/export", data={}, headers={"Referer": "http://localhost/"})

    assert refused.status_code == 400
    assert "attachment" not in refused.headers.get("Content-Disposition", "")
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:data-export")).all()
        == []
    )


def test_exporting_an_unknown_account_fails_cleanly(site: Flask, tmp_path: Path) -> None:
    result = run_authserver(site, tmp_path, "user", "export", "nobody@example.org")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no account with email nobody@example.org\n"

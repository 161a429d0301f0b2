"""Deleting an account from the account page and with `authserver user delete`.

Over HTTP (Flask test client) and through the installed CLI in a subprocess, on every database
backend and session store: afterwards every token and session is dead, nothing personal is
left, the audit rows are kept but name nobody, and the address can register again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.accounts import deletion
from authserver.accounts.email_verification import issue_email_verification
from authserver.accounts.lifecycle import create_user, find_user_by_email
from authserver.accounts.password_reset import request_password_reset
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import (
    AuditEvent,
    AuthorizationCode,
    BrowserSessionRecord,
    Consent,
    DeviceCode,
    EmailVerificationToken,
    Invitation,
    LoginDevice,
    NotMeToken,
    Passkey,
    PasskeyChallenge,
    PasswordResetToken,
    RecoveryCode,
    RefreshFamily,
    RefreshToken,
    TotpCredential,
    UnlockToken,
    User,
    UserRole,
)
from authserver.sessions.service import session_store
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import (
    SAFARI_IPHONE,
    browser,
    is_signed_in,
    signed_in_browser,
    the_user,
)
from tests.support.cli import run_authserver
from tests.support.mfa import Enrolment, enrol, frozen_clock
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    obtain_code,
    token_request,
)
from tests.support.web import csrf_token

OWNED_TABLES = (
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
    RefreshFamily,
    Consent,
    RecoveryCode,
    TotpCredential,
    LoginDevice,
    UnlockToken,
    NotMeToken,
    PasswordResetToken,
    EmailVerificationToken,
    Invitation,
    UserRole,
    BrowserSessionRecord,
    Passkey,
    PasskeyChallenge,
)


@pytest.fixture
def site(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    built = make_app()
    with built.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        yield built


@dataclass
class Account:
    """A well-used account: two browsers, an app with tokens, links waiting in the mailbox."""

    id: int
    subject: str
    laptop: FlaskClient
    phone: FlaskClient
    rp: RelyingParty
    tokens: dict[str, Any]


def well_used_account(site: Flask) -> Account:
    make_user(name="Alice Example")
    laptop = signed_in_browser(site)
    phone = signed_in_browser(site, user_agent=SAFARI_IPHONE, ip="192.0.2.7")
    rp = make_relying_party(name="Calendar")
    pkce = Pkce()
    tokens = exchange_code(laptop, rp, obtain_code(laptop, rp, pkce), pkce).json
    assert "refresh_token" in tokens
    obtain_code(laptop, rp, Pkce())  # a code never exchanged
    user = the_user()
    request_password_reset(DEFAULT_EMAIL, now=datetime.now(UTC))
    issue_email_verification(user, now=datetime.now(UTC))
    return Account(the_user().id, user.subject, laptop, phone, rp, tokens)


def delete_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    page = client.get("/account/delete")
    assert page.status_code == 200, page.text
    return {"csrf_token": csrf_token(page.text), **fields}


def post_deletion(client: FlaskClient, **fields: str) -> Any:
    data = delete_form(client, **fields)
    return client.post(
        "/account/delete", data=data, headers={"Referer": "http://localhost/account/delete"}
    )


def introspect(site: Flask, account: Account, token: str) -> dict[str, Any]:
    """Asked by the app the token was issued to: the one client told about it (RFC 7662 §4)."""
    answer: dict[str, Any] = token_request(
        browser(site), account.rp, {"token": token}, path="/oauth/introspect"
    ).json
    return answer


def rows_left(user_id: int) -> dict[str, int]:
    counts = {
        model.__tablename__: db.session.scalar(
            select(func.count()).select_from(model).where(model.user_id == user_id)
        )
        for model in OWNED_TABLES
    }
    return {table: count for table, count in counts.items() if count}


def assert_everything_is_gone(site: Flask, account: Account) -> None:
    db.session.rollback()
    # Tokens: refused by introspection, userinfo and the token endpoint.
    assert introspect(site, account, account.tokens["access_token"]) == {"active": False}
    assert introspect(site, account, account.tokens["refresh_token"]) == {"active": False}
    userinfo = browser(site).get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {account.tokens['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert userinfo.json == {
        "error": "invalid_token",
        "error_description": "The access token is not active.",
    }
    refreshed = token_request(
        browser(site),
        account.rp,
        {"grant_type": "refresh_token", "refresh_token": account.tokens["refresh_token"]},
    )
    assert refreshed.json["error"] == "invalid_grant"
    # Sessions: neither browser is signed in, and the store has nothing of them.
    assert not is_signed_in(account.phone)
    assert session_store().list_all_for_user(account.id) == []
    # Data: no row of the account anywhere.
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is None
    assert db.session.get(User, account.id) is None
    assert rows_left(account.id) == {}
    assert_audit_rows_name_nobody(account.subject)


def assert_audit_rows_name_nobody(subject: str) -> None:
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [row for row in rows if row.user_subject == subject] == []
    text = json.dumps(
        [[row.user_subject, row.ip, row.user_agent, row.detail] for row in rows]
    ).lower()
    assert subject not in text and DEFAULT_EMAIL not in text and "192.0.2.7" not in text
    [deletion] = [row for row in rows if row.event == "user:delete"]
    pseudonym = deletion.user_subject
    assert pseudonym is not None and re.fullmatch(r"deleted:[0-9a-f]{32}", pseudonym)
    theirs = [row for row in rows if row.user_subject == pseudonym]
    # The history stays: signed in twice (the second browser was new: a notice), gave consent,
    # got tokens, ... and was deleted.
    assert [row.event for row in theirs][:4] == [
        "user:login",
        "user:login",
        "user:login:new-device-notice",
        "consent:give",
    ]
    assert theirs[-1] is deletion
    assert all(row.ip is None and row.user_agent is None for row in theirs)
    assert deletion.outcome == "success"


def test_deleting_the_account_from_the_page_erases_it(site: Flask) -> None:
    account = well_used_account(site)

    response = post_deletion(account.laptop, password=DEFAULT_PASSWORD, confirm="y")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/deleted"
    assert "has been deleted" in account.laptop.get("/account/deleted").text
    assert not is_signed_in(account.laptop)
    assert_everything_is_gone(site, account)
    [deletion] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:delete"))
    assert deletion.detail["via"] == "account-page"
    assert deletion.request_id is not None


def test_the_address_can_register_again_as_a_stranger(site: Flask) -> None:
    account = well_used_account(site)
    post_deletion(account.laptop, password=DEFAULT_PASSWORD, confirm="y")
    db.session.rollback()

    again = create_user(DEFAULT_EMAIL, "an entirely new passphrase")

    assert again.subject != account.subject
    assert rows_left(again.id) == {}
    client = signed_in_browser(site, password="an entirely new passphrase")
    page = client.get("/account").text
    assert "Calendar" not in page and "iPhone" not in page
    export = client.post(
        "/account/export",
        data={"csrf_token": csrf_token(page)},
        headers={"Referer": "http://localhost/account"},
    ).json
    assert [row["event"] for row in export["audit_events"]] == ["user:login"]
    assert export["consents"] == export["refresh_grants"] == []


@pytest.mark.parametrize(
    ("fields", "field_error"),
    [
        ({"password": "not my password", "confirm": "y"}, "Your current password is not correct."),
        ({"password": DEFAULT_PASSWORD}, "Tick the box to confirm"),
        ({"confirm": "y"}, "Enter your current password."),
    ],
)
def test_a_refused_deletion_changes_nothing(
    site: Flask, fields: dict[str, str], field_error: str
) -> None:
    account = well_used_account(site)
    before = rows_left(account.id)

    response = post_deletion(account.laptop, **fields)

    assert response.status_code == 400
    assert field_error in response.text
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is not None
    assert rows_left(account.id) == before
    assert introspect(site, account, account.tokens["access_token"])["active"] is True
    assert is_signed_in(account.laptop) and is_signed_in(account.phone)
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:delete")).all() == []
    )


def test_a_wrong_password_counts_toward_lockout(site: Flask) -> None:
    account = well_used_account(site)

    for attempt in range(1, 6):
        response = post_deletion(account.laptop, password=f"wrong {attempt}", confirm="y")
        assert response.status_code == 400

    db.session.rollback()
    failures = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "user:login:failure").order_by(AuditEvent.id)
    ).all()
    assert [row.detail for row in failures] == [
        {"reason": "password", "scope": "device", "failures": n, "during": "account-delete"}
        for n in range(1, 6)
    ]
    lockouts = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:lockout"))
    assert len(lockouts.all()) == 1
    # Locked now: even the right password is refused, without being looked at.
    refused = post_deletion(account.laptop, password=DEFAULT_PASSWORD, confirm="y")
    assert refused.status_code == 429
    assert "Too many wrong attempts." in refused.text
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is not None


def enrolled_account(site: Flask) -> tuple[FlaskClient, Enrolment]:
    make_user()
    client = signed_in_browser(site)
    return client, enrol(client)


def test_with_mfa_the_code_is_asked_too(site: Flask) -> None:
    with frozen_clock() as clock:
        client, enrolment = enrolled_account(site)
        page = client.get("/account/delete").text
        assert 'name="code"' in page

        missing = post_deletion(client, password=DEFAULT_PASSWORD, confirm="y")
        clock.next_step()
        wrong = post_deletion(client, password=DEFAULT_PASSWORD, confirm="y", code="000000")
        db.session.rollback()
        assert find_user_by_email(DEFAULT_EMAIL) is not None
        clock.next_step()
        done = post_deletion(
            client, password=DEFAULT_PASSWORD, confirm="y", code=enrolment.authenticator.code()
        )

    assert missing.status_code == wrong.status_code == 400
    assert "Enter the 6-digit code from your authenticator app" in missing.text
    assert "That code is not valid." in wrong.text
    assert done.status_code == 303
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is None
    events = [row.event for row in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    # The missing code was counted nowhere; the wrong one like any wrong code.
    assert events.count("user:mfa:failure") == 1
    assert events[-2:] == ["user:mfa:verify", "user:delete"]


def test_a_recovery_code_works_as_the_second_factor(site: Flask) -> None:
    with frozen_clock():
        client, enrolment = enrolled_account(site)
        done = post_deletion(
            client, password=DEFAULT_PASSWORD, confirm="y", code=enrolment.recovery_codes[0]
        )

    assert done.status_code == 303
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is None
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0


def test_the_cli_deletes_the_same_way(site: Flask, tmp_path: Path) -> None:
    account = well_used_account(site)
    db.session.rollback()

    result = run_authserver(site, tmp_path, "user", "delete", DEFAULT_EMAIL, "--yes", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "deleted": True,
        "sessions_ended": 2,
        "refresh_tokens_deleted": 1,
        "consents_deleted": 1,
        "audit_rows_pseudonymised": 7,
    }
    assert not is_signed_in(account.laptop)
    assert_everything_is_gone(site, account)
    [deletion] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:delete"))
    assert deletion.detail == {"via": "cli", "audit_rows_pseudonymised": 7}
    assert deletion.request_id is None  # no request: an operator's command


def test_the_cli_asks_first_and_no_means_no(site: Flask, tmp_path: Path) -> None:
    make_user()
    db.session.commit()

    result = run_authserver(site, tmp_path, "user", "delete", DEFAULT_EMAIL, stdin="n\n")

    assert result.returncode == 1
    assert "Delete the account alice@example.org and everything about it?" in result.stderr
    assert result.stderr.endswith("error: nothing was deleted\n")
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is not None

    confirmed = run_authserver(site, tmp_path, "user", "delete", DEFAULT_EMAIL, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith("deleted alice@example.org: 0 sessions ended")
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is None


def test_the_cli_refuses_an_unknown_address(site: Flask, tmp_path: Path) -> None:
    result = run_authserver(site, tmp_path, "user", "delete", "nobody@example.org", "--yes")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no account with email nobody@example.org\n"


def test_deletion_knows_every_table_that_belongs_to_a_user() -> None:
    belonging = {
        table.name
        for table in db.metadata.sorted_tables
        if any(key.column.table.name == "users" for key in table.foreign_keys)
    }

    assert belonging == {model.__tablename__ for model in OWNED_TABLES}
    assert belonging == {model.__tablename__ for model in deletion.OWNED_TABLES}


def test_the_page_explains_first_and_a_look_changes_nothing(site: Flask) -> None:
    account = well_used_account(site)
    assert (
        '<a href="/account/delete">Delete your account…</a>' in account.laptop.get("/account").text
    )

    page = account.laptop.get("/account/delete")

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "This deletes the account <strong>alice@example.org</strong> for good." in page.text
    assert '<label for="password">Current password</label>' in page.text
    assert 'name="code"' not in page.text  # no authenticator app: no code to ask for
    assert 'type="checkbox"' in page.text and 'name="confirm"' in page.text
    db.session.rollback()
    assert find_user_by_email(DEFAULT_EMAIL) is not None


def test_a_signed_out_browser_is_sent_to_sign_in(site: Flask) -> None:
    make_user()

    response = browser(site).get("/account/delete")

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account/delete"

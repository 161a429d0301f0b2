"""``authserver maintenance purge``: dead rows go, live ones stay, counts are exact.

The data is made by the real flows at past moments (time-machine moves the test's clock; the
command runs at the real time), plus direct rows where a flow would only add noise.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from authserver.accounts.email_verification import issue_email_verification
from authserver.accounts.password_reset import request_password_reset
from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.maintenance.purge import AUDIT_ORIGINS_SCRUBBED, TARGETS
from authserver.models import (
    AuditEvent,
    AuthorizationCode,
    ClientAssertionJti,
    DPoPProofJti,
    LoginDevice,
    NotMeToken,
    PasskeyChallenge,
    PushedAuthorizationRequest,
    RefreshFamily,
    UnlockToken,
    User,
)
from authserver.oauth.deny_list import deny
from tests.cli.admin_support import Grant, refresh, run_code_flow
from tests.factories import make_user
from tests.support.account import signed_in_browser
from tests.support.cli import Cli
from tests.support.device import answer, make_device_client, poll, reach_consent, start
from tests.support.oauth import Pkce, RelyingParty, make_relying_party, obtain_code

SCOPE = "openid offline_access"
TABLES = [target.table for target in TARGETS] + ["refresh_families", AUDIT_ORIGINS_SCRUBBED]


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    counts = {}
    for target in TARGETS:
        counts[target.table] = db.session.scalar(select(func.count()).select_from(target.model))
    counts["refresh_families"] = db.session.scalar(select(func.count()).select_from(RefreshFamily))
    return {name: int(value or 0) for name, value in counts.items()}


def flow_at(app: Flask, rp: RelyingParty, moment: datetime, email: str) -> Grant:
    with at(moment):
        return run_code_flow(signed_in_browser(app, email=email), rp, scope=SCOPE)


def direct_rows(user: User, rp: RelyingParty, now: datetime) -> None:
    """One dead and one live row in tables no flow here fills."""
    for expires_at in (now - timedelta(minutes=5), now + timedelta(hours=1)):
        deny("jti", secrets.token_urlsafe(8), expires_at=expires_at)
        db.session.add(
            ClientAssertionJti(
                client_pk=rp.client.id, jti=secrets.token_urlsafe(8), expires_at=expires_at
            )
        )
        db.session.add(
            DPoPProofJti(jkt="k" * 43, jti=secrets.token_urlsafe(8), expires_at=expires_at)
        )
        db.session.add(
            PushedAuthorizationRequest(
                request_hash=secrets.token_hex(32),
                client_pk=rp.client.id,
                parameters={"client_id": [rp.client_id]},
                expires_at=expires_at,
            )
        )
        db.session.add(
            UnlockToken(token_hash=secrets.token_hex(32), user_id=user.id, expires_at=expires_at)
        )
        db.session.add(
            NotMeToken(token_hash=secrets.token_hex(32), user_id=user.id, expires_at=expires_at)
        )
    db.session.add(
        LoginDevice(
            device_id=secrets.token_urlsafe(16), user_id=user.id, expires_at=now - timedelta(days=1)
        )
    )
    db.session.commit()


def device_requests(app: Flask, now: datetime, email: str) -> None:
    """RFC 8628 requests: unused and expired (goes), redeemed within the day after expiry
    (kept), redeemed and older (goes), and one still open (kept)."""
    rp = make_device_client()
    for moment, redeem in (
        (now - timedelta(hours=2), False),
        (now - timedelta(hours=2), True),
        (now - timedelta(days=3), True),
        (now, False),
    ):
        with at(moment):
            device = app.test_client()
            begun = start(device, rp)
            if redeem:
                browser = app.test_client()
                answer(browser, reach_consent(browser, begun.user_code, email), "allow")
                assert poll(device, rp, begun.device_code).status_code == 200


def test_purge_deletes_exactly_the_dead_rows(app: Flask, cli: Cli) -> None:
    now = datetime.now(UTC)
    users = [make_user(f"user{n}@example.org") for n in range(3)]
    rp = make_relying_party(scope=SCOPE)
    # -40 days: the refresh token's 30-day life is over (token, family, code, session go).
    flow_at(app, rp, now - timedelta(days=40), users[0].email)
    # -3 days: the used code is past the replay window; the refresh token is alive.
    flow_at(app, rp, now - timedelta(days=3), users[1].email)
    # -2 hours: a used code inside the replay window (kept), an unused expired one (goes).
    recent = flow_at(app, rp, now - timedelta(hours=2), users[2].email)
    with at(now - timedelta(hours=2)):
        obtain_code(signed_in_browser(app, email=users[2].email), rp, Pkce(), scope=SCOPE)
    # One expired and one live link of each kind.
    request_password_reset(users[0].email, now=now - timedelta(hours=1))
    request_password_reset(users[1].email, now=now)
    issue_email_verification(users[0], now=now - timedelta(days=2))
    issue_email_verification(users[1], now=now)
    direct_rows(users[0], rp, now)
    device_requests(app, now, users[2].email)
    old = record_event(EventTag.LOGIN, user_subject=users[0].subject)
    old.occurred_at = now - timedelta(days=400)  # past the default 365-day retention
    aging = record_event(EventTag.LOGIN, user_subject=users[1].subject)
    # Kept (365 days), but past the 90 days an audit row may keep where it came from.
    aging.occurred_at = now - timedelta(days=100)
    aging.ip, aging.user_agent = "192.0.2.1", "Example/1.0"
    # A passkey ceremony nobody finished, and one still open (kept).
    for hours, purpose in ((-1, "sign-in"), (1, "register")):
        db.session.add(
            PasskeyChallenge(
                challenge_hash=f"{hours + 2:064x}",
                purpose=purpose,
                user_id=None if purpose == "sign-in" else users[1].id,
                expires_at=now + timedelta(hours=hours),
            )
        )
    db.session.commit()
    before = table_counts()
    expected = {
        "authorization_codes": 3,
        "device_codes": 2,
        "refresh_tokens": 1,
        "refresh_families": 1,
        "revoked_access_tokens": 1,
        "client_assertion_jtis": 1,
        "dpop_proof_jtis": 1,
        "pushed_authorization_requests": 1,
        "password_reset_tokens": 1,
        "email_verification_tokens": 1,
        "unlock_tokens": 1,
        "not_me_tokens": 2,  # one expired row, and the new-device notice of the 3-day-old sign-in
        "passkey_challenges": 1,
        "browser_sessions": 3,  # two from the code flows, one from device_requests
        "login_devices": 1,
        "audit_events": 1,
        AUDIT_ORIGINS_SCRUBBED: 1,
    }

    dry = cli.json("maintenance", "purge", "--dry-run")

    assert dry == {"dry_run": True, "tables": expected}
    assert table_counts() == before

    done = cli.json("maintenance", "purge")

    assert done == {"dry_run": False, "tables": expected}
    after = table_counts()
    # The purge's own audit event is the one row added.
    assert after == {
        name: before[name] - expected[name] + (1 if name == "audit_events" else 0)
        for name in before
    }
    # What stayed still works: the recent grant refreshes, its used code is kept for replays.
    assert refresh(signed_in_browser(app, email=users[2].email), recent).status_code == 200
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuthorizationCode)
            .where(AuthorizationCode.used_at.is_not(None))
        )
        == 1
    )
    purge_rows = db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.event == "admin:maintenance:purge")
    ).all()
    assert purge_rows == [{"deleted": expected, "audit_retention_days": 365}]

    again = cli.json("maintenance", "purge")

    assert again["tables"] == {name: 0 for name in expected}
    assert (
        len(
            db.session.scalars(
                select(AuditEvent.id).where(AuditEvent.event == "admin:maintenance:purge")
            ).all()
        )
        == 1
    )  # an empty purge records nothing


def test_audit_retention_comes_from_the_setting(app: Flask, cli: Cli) -> None:
    now = datetime.now(UTC)
    for age_days in (31, 29):
        event = record_event(EventTag.LOGIN, detail={"age_days": age_days})
        event.occurred_at = now - timedelta(days=age_days)
    db.session.commit()

    text = cli.ok("maintenance", "purge", audit_retention_days="30")

    assert ["audit_events", "deleted", "1"] in [line.split() for line in text.splitlines()]
    kept = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.event == "user:login"))
    assert list(kept) == [{"age_days": 29}]


def test_purge_text_lists_every_table(app: Flask, cli: Cli) -> None:
    lines = cli.ok("maintenance", "purge", "--dry-run").splitlines()

    assert sorted(line.split()[0] for line in lines) == sorted(TABLES)
    assert all(line.split()[1:] == ["would", "delete", "0"] for line in lines)

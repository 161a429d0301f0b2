"""Every security event writes exactly one audit row, with the facts that matter and no secret.

One table: each row names a flow, driven the way its users drive it (a browser or a relying
party over HTTP through the Flask test client, an operator through the installed `authserver`
command in a subprocess), and the one row it must leave. Each flow first gets the world ready,
then calls `world.watch()`; only rows written after that count. Every row and its log line
is searched for every secret the test has seen (passwords, codes, tokens, client secrets,
TOTP keys, links): none may appear.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import read_outbox, signed_in_browser, submit, the_user
from tests.support.cli import run_authserver
from tests.support.device import (
    DeviceStart,
    answer,
    enter_code,
    make_device_client,
    reach_consent,
    start,
)
from tests.support.mailbox import has_subject
from tests.support.mfa import (
    Clock,
    answer_challenge,
    enrol,
    frozen_clock,
    post_code,
    read_setup_page,
)
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    authorize,
    consent,
    exchange_code,
    make_relying_party,
    obtain_code,
    token_request,
)
from tests.support.web import csrf_token, sign_in

WRONG_PASSWORD = "definitely not the password"
NEW_PASSWORD = "a completely different passphrase"
IP = "127.0.0.1"  # the test client's address
PSEUDONYM = "a pseudonym"  # expected subject of the deletion's row: checked by its shape
NEW_DEVICE_SUBJECT = "New sign-in to your account"


@dataclass
class World:
    """The site, one person, one app, and every secret the test has been handed."""

    site: Flask
    clock: Clock
    outbox: Path
    workdir: Path
    make_app: AppFactory
    rp: RelyingParty = field(init=False)
    secrets: list[str] = field(default_factory=list)
    first_new_row: int = 0
    cli_output: list[str] = field(default_factory=list)  # stderr of the commands run

    def __post_init__(self) -> None:
        make_user()
        self.rp = make_relying_party(name="Calendar")
        self.keep(DEFAULT_PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, self.rp.secret)

    def keep(self, *values: object) -> None:
        self.secrets.extend(str(value) for value in values if value)

    def keep_tokens(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json
        self.keep(*(tokens.get(name) for name in ("access_token", "id_token", "refresh_token")))
        return tokens

    def watch(self) -> None:
        """From here on, rows count."""
        db.session.rollback()
        self.first_new_row = (db.session.scalar(select(func.max(AuditEvent.id))) or 0) + 1

    def site_keys(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = self.site.extensions["authserver.settings"].encryption_keys
        return keys

    def browser(self) -> FlaskClient:
        return self.site.test_client()

    def signed_in(self) -> FlaskClient:
        return signed_in_browser(self.site)

    def subject(self) -> str:
        return the_user().subject

    def cli(self, *args: str) -> str:
        result = run_authserver(self.site, self.workdir, *args)
        assert result.returncode == 0, result.stderr
        self.cli_output.append(result.stderr)
        return result.stdout

    def tokens_from_code_flow(self, client: FlaskClient | None = None) -> dict[str, Any]:
        client = client or self.signed_in()
        pkce = Pkce()
        code = obtain_code(client, self.rp, pkce)
        self.keep(code, pkce.verifier)
        return self.keep_tokens(exchange_code(self.browser(), self.rp, code, pkce))


# Each flow returns the (user_subject, client_id) its row must carry.
Flow = Callable[[World], tuple[str | None, str | None]]


def sign_in_succeeds(world: World) -> tuple[str | None, str | None]:
    world.watch()
    world.signed_in()
    return world.subject(), None


def sign_in_fails(world: World) -> tuple[str | None, str | None]:
    world.watch()
    assert sign_in(world.browser(), DEFAULT_EMAIL, WRONG_PASSWORD).status_code == 401
    return world.subject(), None


def fail_five_times(world: World) -> None:
    browser = world.browser()
    for _ in range(5):
        response = sign_in(browser, DEFAULT_EMAIL, WRONG_PASSWORD)
        response.close()  # the lock notice is mailed once the response is closed
        assert response.status_code == 401


def account_locks(world: World) -> tuple[str | None, str | None]:
    browser = world.browser()
    for _ in range(4):
        assert sign_in(browser, DEFAULT_EMAIL, WRONG_PASSWORD).status_code == 401
    world.watch()
    sign_in(browser, DEFAULT_EMAIL, WRONG_PASSWORD).close()
    return world.subject(), None


def owner_unlocks(world: World) -> tuple[str | None, str | None]:
    fail_five_times(world)
    [message] = read_outbox(world.outbox)
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"https?://\S+/unlock/(\S+)", body.decode())
    assert match, body
    token = match.group(1)
    world.keep(token)
    owner = world.browser()
    page = owner.get(f"/unlock/{token}")
    world.watch()
    done = owner.post("/unlock", data={"csrf_token": csrf_token(page.text), "token": token})
    assert done.status_code == 200, done.text
    return world.subject(), None


def second_browser_signs_in(world: World, *, watch_from_then: bool = False) -> str:
    """The account's first sign-in, then one from another browser; the notice's link token."""
    world.signed_in()
    if watch_from_then:
        world.watch()
    response = sign_in(world.browser(), DEFAULT_EMAIL, DEFAULT_PASSWORD)
    response.close()  # the notice is mailed once the response is closed
    assert response.status_code == 303
    [notice] = [m for m in read_outbox(world.outbox) if has_subject(m, NEW_DEVICE_SUBJECT)]
    body = notice.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"https?://\S+/not-me/(\S+)", body.decode())
    assert match, body
    world.keep(match.group(1))
    return match.group(1)


def new_device_notice(world: World) -> tuple[str | None, str | None]:
    second_browser_signs_in(world, watch_from_then=True)
    return world.subject(), None


def not_me(world: World) -> tuple[str | None, str | None]:
    token = second_browser_signs_in(world)
    owner = world.browser()
    page = owner.get(f"/not-me/{token}")
    world.watch()
    done = owner.post("/not-me", data={"csrf_token": csrf_token(page.text), "token": token})
    assert done.status_code == 303, done.text
    return world.subject(), None


def enrolled(world: World) -> tuple[FlaskClient, list[str]]:
    client = world.signed_in()
    enrolment = enrol(client)
    world.keep(enrolment.authenticator.secret, *enrolment.recovery_codes)
    world.keep(*(code.replace("-", "") for code in enrolment.recovery_codes))
    world.clock.next_step()
    return client, enrolment.recovery_codes


def mfa_enrols(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    page = client.get("/account/mfa")
    world.watch()
    authenticator, _ = read_setup_page(page)
    world.keep(authenticator.secret)
    code = authenticator.code()
    world.keep(code)
    done = post_code(client, "/account/mfa", page, code)
    assert done.status_code == 200, done.text
    return world.subject(), None


def password_then_challenge(world: World) -> FlaskClient:
    browser = world.browser()
    response = sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"].startswith("/mfa")
    return browser


def mfa_code_wrong(world: World) -> tuple[str | None, str | None]:
    enrolled(world)
    browser = password_then_challenge(world)
    world.watch()
    assert answer_challenge(browser, "000000").status_code == 401
    return world.subject(), None


def recovery_code_used(world: World) -> tuple[str | None, str | None]:
    _, codes = enrolled(world)
    browser = password_then_challenge(world)
    world.watch()
    used = answer_challenge(browser, codes[0])
    assert used.status_code == 200  # the page that says how many codes are left
    assert "Signed in with a recovery code" in used.text
    return world.subject(), None


def mfa_removed(world: World) -> tuple[str | None, str | None]:
    client, codes = enrolled(world)
    page = client.get("/account/mfa")
    world.watch()
    removed = post_code(client, "/account/mfa", page, codes[1], action="remove")
    assert removed.status_code == 200, removed.text
    return world.subject(), None


def other_sessions_ended(world: World) -> tuple[str | None, str | None]:
    world.signed_in()  # another browser, ended by the set-up below
    client = world.signed_in()
    page = client.get("/account/mfa")
    authenticator, _ = read_setup_page(page)
    code = authenticator.code()
    world.keep(authenticator.secret, code)
    world.watch()
    fields = {"csrf_token": csrf_token(page.text), "code": code, "sign_out_others": "y"}
    done = client.post("/account/mfa", data={**fields, "action": "enrol"})
    assert done.status_code == 200, done.text
    return world.subject(), None


def first_password_added(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    # As an account that accepted its invitation with a passkey: no password yet.
    the_user().password_hash = None
    db.session.commit()
    world.watch()
    response = submit(
        client,
        "/account/password",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 303, response.text
    return world.subject(), None


def password_changed(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    world.watch()
    response = submit(
        client,
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    return world.subject(), None


def password_reset(world: World) -> tuple[str | None, str | None]:
    browser = world.browser()
    page = browser.get("/reset")
    asked = browser.post(
        "/reset",
        data={"csrf_token": csrf_token(page.text), "email": DEFAULT_EMAIL},
        buffered=True,
    )
    assert asked.status_code == 200, asked.text
    [message] = read_outbox(world.outbox)
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    link = re.search(r"https?://\S+/reset/\S+", body.decode())
    assert link, body
    path = urlsplit(link.group(0)).path
    world.keep(path.rsplit("/", 1)[1])
    form = browser.get(path)
    world.watch()
    done = browser.post(
        path, data={"csrf_token": csrf_token(form.text), "password": NEW_PASSWORD}, buffered=True
    )
    assert done.status_code == 303, done.text
    return world.subject(), None


def session_revoked(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    page = client.get("/account").text
    sid = re.search(r'name="sid" value="([^"]+)"', page)
    assert sid
    world.watch()
    response = submit(client, "/account/sessions/sign-out", {"sid": sid.group(1)})
    assert response.status_code == 303
    return world.subject(), None


def code_exchanged(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    pkce = Pkce()
    code = obtain_code(client, world.rp, pkce)
    world.keep(code, pkce.verifier)
    world.watch()
    world.keep_tokens(exchange_code(world.browser(), world.rp, code, pkce))
    return world.subject(), world.rp.client_id


def refreshed(world: World) -> tuple[str | None, str | None]:
    tokens = world.tokens_from_code_flow()
    world.watch()
    world.keep_tokens(
        token_request(
            world.browser(),
            world.rp,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    )
    return world.subject(), world.rp.client_id


def client_credentials(world: World) -> tuple[str | None, str | None]:
    service = make_relying_party(
        name="Reports", grant_types=("client_credentials",), redirect_uris=(), scope="api:read"
    )
    world.keep(service.secret)
    world.watch()
    world.keep_tokens(token_request(world.browser(), service, {"grant_type": "client_credentials"}))
    return None, service.client_id


def refresh_reused(world: World) -> tuple[str | None, str | None]:
    tokens = world.tokens_from_code_flow()
    grant = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    world.keep_tokens(token_request(world.browser(), world.rp, grant))
    # The first presentation again is forgiven as a lost answer's retry; the next is reuse.
    assert token_request(world.browser(), world.rp, grant).status_code == 200
    world.watch()
    replayed = token_request(world.browser(), world.rp, grant)
    assert replayed.json["error"] == "invalid_grant"
    return world.subject(), world.rp.client_id


def consent_given(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    page = authorize(client, world.rp, Pkce())
    assert page.status_code == 200, page.text
    world.watch()
    assert consent(client, page).status_code == 302
    return world.subject(), world.rp.client_id


def consent_revoked(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    world.tokens_from_code_flow(client)
    world.watch()
    response = submit(client, "/account/apps/revoke", {"client_id": world.rp.client_id})
    assert response.status_code == 303
    return world.subject(), world.rp.client_id


def keys_rotate_by_themselves(world: World) -> tuple[str | None, str | None]:
    rotating = world.make_app(key_auto_rotate=True, encryption_keys=world.site_keys())
    world.clock.advance(91 * 86400)  # older than the 90-day rotation interval
    world.watch()
    assert rotating.test_client().get("/login").status_code == 200
    return None, None


def keys_rotated_by_operator(world: World) -> tuple[str | None, str | None]:
    world.watch()
    world.cli("keys", "rotate")
    return None, None


def client_created(world: World) -> tuple[str | None, str | None]:
    world.watch()
    output = json.loads(
        world.cli(
            *("client", "create", "--name", "Notes"),
            *("--redirect-uri", "https://notes.example/cb", "--json"),
        )
    )
    world.keep(output["client_secret"])
    return None, output["client_id"]


def client_secret_rotated(world: World) -> tuple[str | None, str | None]:
    world.watch()
    output = json.loads(world.cli("client", "rotate-secret", world.rp.client_id, "--json"))
    world.keep(output["client_secret"])
    return None, world.rp.client_id


def client_deleted(world: World) -> tuple[str | None, str | None]:
    world.watch()
    world.cli("client", "delete", world.rp.client_id)
    return None, world.rp.client_id


def data_exported(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    world.watch()
    assert submit(client, "/account/export", {}).status_code == 200
    return world.subject(), None


def account_deleted(world: World) -> tuple[str | None, str | None]:
    client = world.signed_in()
    page = client.get("/account/delete")
    world.watch()
    response = client.post(
        "/account/delete",
        data={"csrf_token": csrf_token(page.text), "password": DEFAULT_PASSWORD, "confirm": "y"},
    )
    assert response.status_code == 303, response.text
    return PSEUDONYM, None


def device_request(world: World) -> tuple[RelyingParty, DeviceStart]:
    rp = make_device_client(name="Living Room TV")
    begun = start(world.browser(), rp)
    world.keep(rp.secret, begun.device_code, begun.user_code, begun.user_code.replace("-", ""))
    return rp, begun


def device_decided(world: World, decision: str) -> tuple[str | None, str | None]:
    rp, begun = device_request(world)
    browser = world.signed_in()
    page = reach_consent(browser, begun.user_code, DEFAULT_EMAIL)
    world.watch()
    assert answer(browser, page, decision).status_code == 200
    return world.subject(), rp.client_id


def device_approved(world: World) -> tuple[str | None, str | None]:
    return device_decided(world, "allow")


def device_denied(world: World) -> tuple[str | None, str | None]:
    return device_decided(world, "deny")


def user_code_wrong(world: World) -> tuple[str | None, str | None]:
    _, begun = device_request(world)
    browser = world.signed_in()
    world.watch()
    # One letter off the real code: the row must not carry the code that was tried.
    wrong = ("C" if begun.user_code[0] != "C" else "B") + begun.user_code[1:]
    world.keep(wrong, wrong.replace("-", ""))
    assert enter_code(browser, wrong).status_code == 400
    return world.subject(), None


@dataclass(frozen=True)
class Case:
    flow: Flow
    event: str
    outcome: str = "success"
    # Where it came from: "http" (IP, user agent and request id), "request" (a request id but
    # deliberately no address), "cli" (none of them).
    origin: str = "http"


CASES = {
    "sign-in": Case(sign_in_succeeds, "user:login"),
    "sign-in failure": Case(sign_in_fails, "user:login:failure", "failure"),
    "lockout": Case(account_locks, "user:lockout"),
    "unlock": Case(owner_unlocks, "user:unlock"),
    "new-device notice": Case(new_device_notice, "user:login:new-device-notice"),
    "this wasn't me": Case(not_me, "user:login:not-me"),
    "mfa enrol": Case(mfa_enrols, "user:mfa:enrol"),
    "mfa failure": Case(mfa_code_wrong, "user:mfa:failure", "failure"),
    "partial sign-in notice": Case(mfa_code_wrong, "user:login:partial-notice"),
    "recovery code used": Case(recovery_code_used, "user:mfa:recovery-code-used"),
    "mfa remove": Case(mfa_removed, "user:mfa:remove"),
    "password change": Case(password_changed, "user:password-change"),
    "first password added": Case(first_password_added, "user:password-add"),
    "password reset": Case(password_reset, "user:password-reset"),
    "session revoked": Case(session_revoked, "user:session:revoke"),
    "other sessions ended": Case(other_sessions_ended, "user:sessions:revoke-others"),
    "token issued: authorization_code": Case(code_exchanged, "token:issue"),
    "token issued: refresh_token": Case(refreshed, "token:issue"),
    "refresh reuse detected": Case(refresh_reused, "token:refresh-reuse:failure", "failure"),
    "consent given": Case(consent_given, "consent:give"),
    "device approved": Case(device_approved, "device:approve"),
    "device denied": Case(device_denied, "device:deny"),
    "wrong user code": Case(user_code_wrong, "device:user-code:failure", outcome="failure"),
    "consent revoked": Case(consent_revoked, "consent:revoke"),
    "key rotated automatically": Case(keys_rotate_by_themselves, "key:rotate", origin="request"),
    "key rotated by the operator": Case(keys_rotated_by_operator, "key:rotate", origin="cli"),
    "client created": Case(client_created, "client:create", origin="cli"),
    "client changed (secret)": Case(client_secret_rotated, "client:rotate-secret", origin="cli"),
    "client deleted": Case(client_deleted, "client:delete", origin="cli"),
    "data exported": Case(data_exported, "user:data-export"),
    "account deleted": Case(account_deleted, "user:delete", origin="request"),
}


@pytest.fixture
def world(
    app: Flask, make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[World]:
    outbox = tmp_path / "outbox"
    site = make_app(mail_backend="file", mail_file_dir=str(outbox))
    caplog.set_level(logging.INFO, logger="authserver.audit")
    with frozen_clock() as clock, site.app_context():
        ensure_active_keys(now=clock.now())
        yield World(site, clock, outbox, tmp_path, make_app)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_security_event_leaves_exactly_one_row(
    world: World, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    subject, client_id = case.flow(world)

    db.session.rollback()
    new_rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.id >= world.first_new_row).order_by(AuditEvent.id)
    ).all()
    [row] = [each for each in new_rows if each.event == case.event]
    assert row.outcome == case.outcome
    if subject is PSEUDONYM:
        assert row.user_subject is not None and row.user_subject.startswith("deleted:")
    else:
        assert row.user_subject == subject
    assert row.client_id == client_id
    origin = (row.ip, row.user_agent is not None, row.request_id is not None)
    assert (
        origin
        == {
            "http": (IP, True, True),
            "request": (None, False, True),
            "cli": (None, False, False),
        }[case.origin]
    )
    assert row.occurred_at == world.clock.now() or case.origin == "cli"
    assert_no_secret_in(world, new_rows, caplog)


def assert_no_secret_in(
    world: World, rows: list[AuditEvent], caplog: pytest.LogCaptureFixture
) -> None:
    written = json.dumps(
        [
            [row.event, row.user_subject, row.client_id, row.ip, row.user_agent, row.detail]
            for row in rows
        ]
    )
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if record.name == "authserver.audit"
    )
    texts = {"rows": written, "log lines": logged, "command errors": "\n".join(world.cli_output)}
    leaks = {
        where: [secret for secret in world.secrets if secret in text]
        for where, text in texts.items()
    }
    assert leaks == {"rows": [], "log lines": [], "command errors": []}


def test_the_table_covers_every_event_the_issue_lists() -> None:
    listed = {case.event for case in CASES.values()}

    assert listed >= {
        "user:login",
        "user:login:failure",
        "user:lockout",
        "user:unlock",
        "user:mfa:enrol",
        "user:mfa:remove",
        "user:mfa:failure",
        "user:mfa:recovery-code-used",
        "user:password-change",
        "user:password-reset",
        "user:session:revoke",
        "token:issue",
        "token:refresh-reuse:failure",
        "consent:give",
        "consent:revoke",
        "key:rotate",
        "client:create",
        "client:rotate-secret",
        "client:delete",
        "user:data-export",
        "user:delete",
    }
    grant_types = [name.removeprefix("token issued: ") for name in CASES if "token issued" in name]
    # client_credentials: test_client_credentials_tokens_are_logged_but_not_stored below.
    assert grant_types == ["authorization_code", "refresh_token"]


def test_client_credentials_tokens_are_logged_but_not_stored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Machine traffic: a row per token would be the database write per access token that
    # DESIGN.md rules out. The audit log line (and the metrics count) carry the event instead.
    subject, client_id = client_credentials(world)

    db.session.rollback()
    new_rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.id >= world.first_new_row)
    ).all()
    assert [row.event for row in new_rows] == []
    [line] = [
        record
        for record in caplog.records
        if record.name == "authserver.audit" and record.__dict__.get("event") == "token:issue"
    ]
    assert line.__dict__["client_id"] == client_id and subject is None
    assert line.__dict__["detail"]["grant_type"] == "client_credentials"
    assert line.__dict__["request_id"] is not None
    assert_no_secret_in(world, list(new_rows), caplog)

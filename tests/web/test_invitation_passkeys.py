"""An invitation accepted with a passkey instead of a password: the account has no password
and signs in with the passkey; what that account can and cannot do on its own pages; and the
refusals, each of which creates nothing. The software authenticator of
tests/support/passkeys.py stands in for the browser's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent, Passkey, PasskeyChallenge, User
from tests.conftest import AppFactory
from tests.support.mfa import enrol, post_code
from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    verify_jwt,
)
from tests.support.passkeys import SoftPasskey, b64url, passkey_sign_in, post_form, unb64url
from tests.support.smtp import Inbox
from tests.support.web import csrf_token, sign_in
from tests.web.test_invitations import (
    EMAIL,
    PASSWORD,
    SEA_IN_CYRILLIC,
    events,
    invite,
    invited_app,
    run_cli,
)
from tests.web.test_reset import request_reset, reset_link, set_password
from tests.web.test_verify_email import stored_user

OTHER_EMAIL = "ada@example.com"
REFERER = {"Referer": "http://localhost/account"}
NEW_PASSWORD = "another phrase of my very own"


@pytest.fixture
def inviter(app: Flask, make_app: AppFactory, inbox: Inbox) -> Flask:
    ensure_active_keys(now=datetime.now(UTC))
    return invited_app(app, make_app, inbox, "invite")


def path_of(link: object) -> str:
    return urlsplit(str(link)).path


def ask(browser: FlaskClient, page: str) -> TestResponse:
    """As templates/static/passkeys.js does on the invitation page: the options."""
    token = csrf_token(browser.get(page).text)
    return browser.post(page + "/passkey/options", data={"csrf_token": token})


def options_for(browser: FlaskClient, page: str) -> dict[str, Any]:
    asked = ask(browser, page)
    assert asked.status_code == 200, asked.text
    return json.loads(asked.text)  # type: ignore[no-any-return]


def passkey_for(created: dict[str, Any]) -> SoftPasskey:
    """A new authenticator's passkey for the user the options name."""
    return SoftPasskey(user_handle=unb64url(created["user"]["id"]))


def answer(
    browser: FlaskClient, page: str, credential: dict[str, Any], *, token_from: str | None = None
) -> TestResponse:
    token = csrf_token(browser.get(token_from or page).text)
    data = {"csrf_token": token, "credential": json.dumps(credential)}
    return browser.post(page + "/passkey", data=data)


def accept_with_passkey(browser: FlaskClient, page: str) -> SoftPasskey:
    created = options_for(browser, page)
    passkey = passkey_for(created)
    accepted = answer(browser, page, passkey.create(created))
    assert accepted.status_code == 200, accepted.text
    return passkey


def accounts() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(User)) or 0)


def passkeys() -> list[Passkey]:
    db.session.rollback()
    return list(db.session.scalars(select(Passkey)))


def detail_of(event: str) -> Any:
    db.session.rollback()
    row = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id.desc())
    ).first()
    assert row is not None, event
    return row.detail


# --- accepting ----------------------------------------------------------------------------------


def test_a_passkey_accepts_the_invitation_and_then_signs_in(inviter: Flask, inbox: Inbox) -> None:
    page = path_of(invite(inviter, "--name", "Grace Hopper")["link"])
    browser = inviter.test_client()
    shown = browser.get(page).text
    assert "Or create a passkey" in shown
    # Hidden until the script finds WebAuthn: without it the password form stands alone.
    assert '<section aria-labelledby="passkey-heading" data-webauthn hidden>' in shown
    assert f'data-options="{page}/passkey/options"' in shown
    assert '<script src="/static/passkeys.js" defer></script>' in shown

    created = options_for(browser, page)
    # WebAuthn §5.4: a discoverable credential with user verification, named for the address.
    assert created["rp"]["id"] == "localhost"
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["authenticatorSelection"]["userVerification"] == "required"
    assert (created["user"]["name"], created["user"]["displayName"]) == (EMAIL, "Grace Hopper")
    assert created["excludeCredentials"] == []
    passkey = passkey_for(created)
    accepted = answer(browser, page, passkey.create(created))

    assert accepted.status_code == 200
    assert accepted.json == {"location": "/invitation/done?way=passkey"}
    assert accepted.headers["Cache-Control"] == "no-store"
    assert "Sign in with a passkey" in browser.get("/invitation/done?way=passkey").text
    user = stored_user(EMAIL)
    # The options named the subject the account was then given (WebAuthn §14.6.1).
    assert created["user"]["id"] == b64url(user.subject.encode())
    assert (user.password_hash, user.created_via, user.name) == (None, "invitation", "Grace Hopper")
    assert user.email_verified_at is not None
    [stored] = passkeys()
    assert (stored.user_id, stored.credential_id) == (user.id, passkey.credential_id)
    assert events("user:invitation") == [("user:invitation:accept", "success", user.subject)]
    assert detail_of("user:invitation:accept") == {"with": "passkey"}
    assert events("user:passkey:add") == [("user:passkey:add", "success", user.subject)]
    shown_by_cli = json.loads(run_cli(inviter, "user", "show", EMAIL, "--json").stdout)
    assert (shown_by_cli["created_via"], shown_by_cli["has_password"]) == ("invitation", False)

    client = inviter.test_client()
    assert passkey_sign_in(client, passkey).status_code == 200
    rp = make_relying_party(skip_consent=True, require_mfa=True)
    pkce = Pkce()
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    assert tokens is not None
    claims = verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")
    # RFC 8176 §2: a hardware-bound key with user verification, two factors; never "pwd".
    assert claims["amr"] == ["hwk", "user", "mfa"]
    assert claims["sub"] == user.subject


def test_without_a_password_every_password_is_refused_like_a_wrong_one(
    inviter: Flask, inbox: Inbox
) -> None:
    accept_with_passkey(inviter.test_client(), path_of(invite(inviter)["link"]))

    refused = sign_in(inviter.test_client(), EMAIL, PASSWORD)
    unknown = sign_in(inviter.test_client(), "nobody@example.com", PASSWORD)

    assert refused.status_code == unknown.status_code == 401
    for answer_page in (refused, unknown):
        assert "The email address or password is incorrect" in answer_page.text
    assert stored_user(EMAIL).failed_logins == 1  # counted like any wrong password


# --- refusals: nothing is created ---------------------------------------------------------------


def test_an_invitation_accepted_once_refuses_a_second_passkey(inviter: Flask, inbox: Inbox) -> None:
    page = path_of(invite(inviter)["link"])
    browser, racer = inviter.test_client(), inviter.test_client()
    first, second = options_for(browser, page), options_for(racer, page)
    assert answer(browser, page, passkey_for(first).create(first)).status_code == 200

    late = answer(racer, page, passkey_for(second).create(second), token_from="/login")
    token = csrf_token(racer.get("/login").text)
    again = racer.post(page + "/passkey/options", data={"csrf_token": token})

    for refused in (late, again):
        assert refused.status_code == 400
        assert refused.json == {"location": page}
    assert accounts() == 1 and len(passkeys()) == 1
    assert "This invitation link cannot be used" in racer.get(page).text


def test_an_expired_invitation_refuses_the_passkey_and_creates_nothing(
    inviter: Flask, inbox: Inbox
) -> None:
    page = path_of(invite(inviter)["link"])
    browser = inviter.test_client()
    created = options_for(browser, page)
    credential = json.dumps(passkey_for(created).create(created))

    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1)):
        token = csrf_token(browser.get("/login").text)
        refused = browser.post(
            page + "/passkey", data={"csrf_token": token, "credential": credential}
        )

    assert refused.status_code == 400
    assert refused.json == {"location": page}
    assert accounts() == 0 and passkeys() == []
    assert ("user:invitation:failure", "failure", None) in events("user:invitation")
    assert detail_of("user:invitation:failure") == {"reason": "expired"}


def test_a_challenge_of_another_invitation_is_refused(inviter: Flask, inbox: Inbox) -> None:
    mine = path_of(invite(inviter)["link"])
    result = run_cli(inviter, "user", "invite", OTHER_EMAIL, "--json")
    theirs = path_of(json.loads(result.stdout)["link"])
    browser = inviter.test_client()
    created = options_for(browser, mine)

    refused = answer(browser, theirs, passkey_for(created).create(created))

    assert refused.status_code == 400
    assert refused.json is not None and "not created" in refused.json["error"]
    assert accounts() == 0 and passkeys() == []
    assert detail_of("user:invitation:failure") == {"reason": "passkey-challenge"}
    # Both links still work, each with its own challenge.
    accept_with_passkey(browser, theirs)
    accept_with_passkey(browser, mine)
    assert accounts() == 2


@pytest.mark.parametrize(
    ("wrong", "reason"),
    [
        ({"origin": "http://evil.localhost"}, "passkey-origin"),
        ({"rp_id": "evil.test"}, "passkey-rp-id"),
        ({"uv": False}, "passkey-user-verification"),
    ],
)
def test_a_wrong_passkey_is_refused_and_the_link_stays_usable(
    inviter: Flask, inbox: Inbox, wrong: dict[str, Any], reason: str
) -> None:
    page = path_of(invite(inviter)["link"])
    browser = inviter.test_client()
    created = options_for(browser, page)

    refused = answer(browser, page, passkey_for(created).create(created, **wrong))

    assert refused.status_code == 400
    assert accounts() == 0 and passkeys() == []
    assert detail_of("user:invitation:failure") == {"reason": reason}
    accept_with_passkey(browser, page)
    assert accounts() == 1


def test_the_passkey_posts_want_the_csrf_token(inviter: Flask, inbox: Inbox) -> None:
    page = path_of(invite(inviter)["link"])
    browser = inviter.test_client()

    refused = browser.post(page + "/passkey/options")

    assert refused.status_code == 400
    assert db.session.scalars(select(PasskeyChallenge)).all() == []


def test_a_passkey_registered_elsewhere_is_refused(inviter: Flask, inbox: Inbox) -> None:
    page = path_of(invite(inviter)["link"])
    browser = inviter.test_client()
    taken = accept_with_passkey(browser, page)
    other = path_of(
        json.loads(run_cli(inviter, "user", "invite", OTHER_EMAIL, "--json").stdout)["link"]
    )
    created = options_for(browser, other)
    copy = SoftPasskey(
        user_handle=unb64url(created["user"]["id"]), credential_id=taken.credential_id
    )

    refused = answer(browser, other, copy.create(created))

    assert refused.status_code == 400
    assert accounts() == 1 and len(passkeys()) == 1
    assert detail_of("user:invitation:failure") == {"reason": "passkey-taken"}


def test_transports_named_again_and_again_are_stored_once(inviter: Flask, inbox: Inbox) -> None:
    # The browser's answer is the client's to write: thirty "internal" would not fit the column
    # (PostgreSQL refuses the row), and one says as much as thirty.
    page = path_of(invite(inviter)["link"])
    browser = inviter.test_client()
    created = options_for(browser, page)
    credential = passkey_for(created).create(created)
    credential["response"]["transports"] = ["internal"] * 30 + ["hybrid"]

    accepted = answer(browser, page, credential)

    assert accepted.status_code == 200, accepted.text
    assert [stored.transports for stored in passkeys()] == ["hybrid,internal"]


def test_an_invitation_that_came_to_imitate_a_newer_account_refuses_the_passkey(
    inviter: Flask, inbox: Inbox
) -> None:
    result = run_cli(inviter, "user", "invite", f"{SEA_IN_CYRILLIC}@example.com", "--json")
    page = path_of(json.loads(result.stdout)["link"])
    browser = inviter.test_client()
    created = options_for(browser, page)
    make_user("sea@example.com", name=None)  # after the invitation went out

    refused = answer(browser, page, passkey_for(created).create(created))

    assert refused.status_code == 400
    assert refused.json == {"location": page}
    assert accounts() == 1 and passkeys() == []
    assert detail_of("user:invitation:failure") == {"reason": "refused"}


# --- the account afterwards ---------------------------------------------------------------------


def signed_in_with(inviter: Flask, passkey: SoftPasskey) -> FlaskClient:
    client = inviter.test_client()
    assert passkey_sign_in(client, passkey).status_code == 200
    return client


def passkey_account(inviter: Flask) -> tuple[SoftPasskey, FlaskClient]:
    passkey = accept_with_passkey(inviter.test_client(), path_of(invite(inviter)["link"]))
    return passkey, signed_in_with(inviter, passkey)


def add_password(client: FlaskClient) -> TestResponse:
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    return post_form(client, "/account/password", data)


def test_the_account_page_adds_a_first_password_without_asking_for_one(
    inviter: Flask, inbox: Inbox
) -> None:
    _, client = passkey_account(inviter)
    page = client.get("/account").text
    assert "Your account has no password" in page
    assert "Current password" not in page and "Add password" in page
    # Two-step verification speaks of the passkeys it has, not of a password it has not.
    assert "Your passkeys already count as two steps" in " ".join(page.split())
    assert "asks for your password only" not in page

    added = add_password(client)

    assert added.status_code == 303
    assert "Your password was added" in client.get("/account").text
    assert stored_user(EMAIL).password_hash is not None
    assert events("user:password-add") == [
        ("user:password-add", "success", stored_user(EMAIL).subject)
    ]
    assert any("Your password was changed" in m["Subject"] for m in inbox.messages)
    assert sign_in(inviter.test_client(), EMAIL, NEW_PASSWORD).status_code == 303
    assert "Current password" in client.get("/account").text
    assert "asks for your password only" in client.get("/account").text


def test_a_first_password_needs_a_recent_sign_in(inviter: Flask, inbox: Inbox) -> None:
    _, client = passkey_account(inviter)
    token = csrf_token(client.get("/account").text)
    data = {"csrf_token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        refused = client.post("/account/password", data=data, headers=REFERER)
        sign_in_page = client.get(refused.headers["Location"]).text

    assert refused.status_code == 303
    assert refused.headers["Location"] == "/login?next=/account"
    assert "For your security, sign in again to add a password." in sign_in_page
    assert stored_user(EMAIL).password_hash is None


def test_a_passkey_account_is_deleted_after_a_recent_sign_in(inviter: Flask, inbox: Inbox) -> None:
    passkey, client = passkey_account(inviter)
    page = client.get("/account/delete")
    assert page.status_code == 200
    assert "Current password" not in page.text
    data = {"csrf_token": csrf_token(page.text), "confirm": "y"}

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        stale = client.post("/account/delete", data=data, headers=REFERER)
        not_shown = client.get("/account/delete")
        sign_in_page = client.get(stale.headers["Location"]).text
    assert stale.status_code == not_shown.status_code == 303
    assert stale.headers["Location"] == "/login?next=/account/delete"
    assert "sign in again to delete your account" in sign_in_page
    assert accounts() == 1
    # A fresh form: the cookie the future wrote is not valid now.
    data["csrf_token"] = csrf_token(client.get("/account/delete").text)

    deleted = client.post("/account/delete", data=data, headers=REFERER)

    assert deleted.status_code == 303, deleted.text
    assert deleted.headers["Location"] == "/account/deleted"
    assert accounts() == 0 and passkeys() == []
    assert passkey_sign_in(inviter.test_client(), passkey).status_code == 401


def test_the_last_passkey_of_an_account_without_a_password_stays(
    inviter: Flask, inbox: Inbox
) -> None:
    _, client = passkey_account(inviter)
    [stored] = passkeys()
    confirm = client.get(f"/account/passkeys/{stored.id}/remove")
    assert "This passkey cannot be removed" in confirm.text
    assert 'class="danger"' not in confirm.text  # no button to press

    # A post all the same (a page open from before, say): refused, nothing changed.
    refused = client.post(
        f"/account/passkeys/{stored.id}/remove",
        data={"csrf_token": csrf_token(client.get("/account").text)},
    )

    assert refused.status_code == 303
    assert "it is the only way you can sign in" in client.get("/account").text
    assert len(passkeys()) == 1
    assert events("user:passkey:remove") == []
    assert add_password(client).status_code == 303
    confirm = client.get(f"/account/passkeys/{stored.id}/remove").text
    assert "You can still sign in with your password" in confirm
    token = csrf_token(confirm)
    removed = client.post(f"/account/passkeys/{stored.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert passkeys() == []


def test_an_operator_may_remove_the_last_way_in_and_is_warned(inviter: Flask, inbox: Inbox) -> None:
    passkey_account(inviter)
    [stored] = passkeys()

    result = run_cli(inviter, "user", "passkeys", "remove", EMAIL, str(stored.id))

    assert result.exit_code == 0, result.output
    assert "has no passkey and no password left: it cannot sign in" in result.stderr
    assert passkeys() == []
    assert detail_of("user:passkey:remove")["last_way_in"] is True


def test_a_password_reset_gives_an_account_without_one_a_password(
    inviter: Flask, inbox: Inbox
) -> None:
    passkey, _ = passkey_account(inviter)
    browser = inviter.test_client()

    assert request_reset(browser, EMAIL).status_code == 200
    done = set_password(browser, reset_link(inbox), NEW_PASSWORD)

    assert done.status_code == 303, done.text
    assert stored_user(EMAIL).password_hash is not None
    assert sign_in(inviter.test_client(), EMAIL, NEW_PASSWORD).status_code == 303
    assert passkey_sign_in(inviter.test_client(), passkey).status_code == 200  # still works


def test_removing_the_app_of_an_account_without_a_password_speaks_of_its_passkeys(
    inviter: Flask, inbox: Inbox
) -> None:
    _, client = passkey_account(inviter)
    enrolled = enrol(client)
    page = client.get("/account/mfa")

    removed = post_code(client, "/account/mfa", page, enrolled.recovery_codes[0], action="remove")

    assert removed.status_code == 200, removed.text
    text = " ".join(removed.text.split())
    assert "You sign in with your passkeys as before" in text
    assert "asks for your password only" not in text

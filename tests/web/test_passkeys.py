"""Passkeys over HTTP: added from the account page, signing in alone or as the second step,
what the ID token's `amr` says, and every refusal, with the software authenticator of
tests/support/passkeys.py standing in for the browser and its authenticator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent, Passkey, PasskeyChallenge
from authserver.models.passkeys import MAX_PASSKEY_NAME_LENGTH
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import FIREFOX_LINUX, audit_tags, read_outbox, the_user
from tests.support.mailbox import text_of
from tests.support.mfa import enrol
from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    obtain_code,
    verify_jwt,
)
from tests.support.passkeys import (
    SoftPasskey,
    a_passkey,
    b64url,
    options,
    passkey_sign_in,
    post_form,
    register,
    registered,
    signed_in,
    token_of,
)
from tests.support.web import csrf_token, sign_in
from tests.web.test_languages import compile_catalog

JSON = {"Referer": "http://localhost/account"}


@pytest.fixture
def user(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))
    make_user()


# --- adding one -------------------------------------------------------------------------------


def test_a_passkey_is_added_from_the_account_page_and_listed(app: Flask, user: None) -> None:
    client = signed_in(app)
    assert "Add a passkey" in client.get("/account").text
    created = options(client, "/account/passkeys/options", page="/account")

    # WebAuthn §5.4: a discoverable credential, user verification required, for our RP.
    assert created["rp"]["id"] == "localhost"
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["authenticatorSelection"]["userVerification"] == "required"
    assert created["user"]["id"] == b64url(the_user().subject.encode())
    passkey = a_passkey(synced=True)
    response = post_form(client, "/account/passkeys", {"credential": passkey.create(created)})

    assert response.status_code == 200
    assert response.json == {"location": "/account"}
    page = client.get("/account").text
    assert "Your passkey was added" in page
    assert "Synced" in page and "Never" in page
    [stored] = db.session.scalars(select(Passkey)).all()
    assert stored.credential_id == passkey.credential_id and stored.backup_state
    assert "user:passkey:add" in audit_tags()


def test_adding_needs_a_recent_sign_in(app: Flask, user: None) -> None:
    client = signed_in(app)
    later = datetime.now(UTC) + timedelta(minutes=11)
    with time_machine.travel(later, tick=False):
        response = post_form(client, "/account/passkeys/options")

    assert response.status_code == 403
    assert response.json is not None
    assert response.json["location"] == "/login?next=/account"
    assert db.session.scalars(select(PasskeyChallenge)).all() == []


def test_the_json_endpoints_want_the_csrf_token(app: Flask, user: None) -> None:
    client = signed_in(app)

    response = client.post("/account/passkeys/options", headers=JSON)

    assert response.status_code == 400
    assert db.session.scalars(select(PasskeyChallenge)).all() == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"origin": "http://evil.localhost"}, "origin"),
        ({"rp_id": "evil.test"}, "rp-id"),
        ({"uv": False}, "user-verification"),
    ],
)
def test_a_wrong_registration_is_refused_and_nothing_is_stored(
    app: Flask, user: None, answer: dict[str, Any], reason: str
) -> None:
    response = register(signed_in(app), a_passkey(), **answer)

    assert response.status_code == 400
    assert db.session.scalars(select(Passkey)).all() == []
    assert "user:passkey:failure" in audit_tags("failure")


def test_renaming_and_removing_after_a_confirm_page(app: Flask, user: None) -> None:
    registered(app)
    client = signed_in(app)
    [stored] = db.session.scalars(select(Passkey)).all()
    token = token_of(client)

    renamed = client.post(
        f"/account/passkeys/{stored.id}/name", data={"csrf_token": token, "name": " Work  laptop "}
    )
    confirm = client.get(f"/account/passkeys/{stored.id}/remove")
    removed = client.post(
        f"/account/passkeys/{stored.id}/remove", data={"csrf_token": csrf_token(confirm.text)}
    )

    assert renamed.status_code == 303 and removed.status_code == 303
    assert "Work laptop" in confirm.text
    assert db.session.scalars(select(Passkey)).all() == []
    assert {"user:passkey:rename", "user:passkey:remove"} <= set(audit_tags())


def test_a_long_translated_device_name_is_cut_to_fit_not_refused(
    make_app: AppFactory, tmp_path: Path, user: None
) -> None:
    # An operator's own catalog may describe a device at length; the passkey is still added,
    # its first name cut to the longest a name may be.
    own = tmp_path / "translations"
    wordy = "%(browser)s, gebruikt op een apparaat met het besturingssysteem %(system)s"
    compile_catalog(own, "nl", {"%(browser)s on %(system)s": wordy})
    site = make_app(translations_dir=str(own))
    client = signed_in(site)
    client.environ_base.update(HTTP_ACCEPT_LANGUAGE="nl", HTTP_USER_AGENT=FIREFOX_LINUX)

    added = register(client, a_passkey())

    assert added.status_code == 200, added.text
    [stored] = db.session.scalars(select(Passkey)).all()
    full = wordy % {"browser": "Firefox", "system": "Linux"}
    assert len(full) > MAX_PASSKEY_NAME_LENGTH
    assert stored.name == full[:MAX_PASSKEY_NAME_LENGTH].rstrip()


def test_someone_elses_passkey_cannot_be_removed(app: Flask, user: None) -> None:
    registered(app)
    make_user(email="mallory@example.com")
    [stored] = db.session.scalars(select(Passkey)).all()
    client = app.test_client()
    sign_in(client, "mallory@example.com", DEFAULT_PASSWORD)

    response = client.post(
        f"/account/passkeys/{stored.id}/remove", data={"csrf_token": token_of(client)}
    )

    assert response.status_code == 303
    assert len(db.session.scalars(select(Passkey)).all()) == 1


# --- signing in with one ----------------------------------------------------------------------


def test_a_passkey_alone_signs_in_as_two_factors(app: Flask, user: None) -> None:
    passkey = registered(app)
    client = app.test_client()

    response = passkey_sign_in(client, passkey)

    assert response.status_code == 200
    assert response.json == {"location": "/account"}
    assert client.get("/account").status_code == 200
    assert db.session.scalars(select(Passkey)).one().last_used_at is not None


@pytest.mark.parametrize(("synced", "key"), [(False, "hwk"), (True, "swk")])
def test_the_id_token_says_passkey_and_mfa_without_pwd(
    app: Flask, user: None, synced: bool, key: str
) -> None:
    passkey = registered(app, synced=synced)
    client = app.test_client()
    passkey_sign_in(client, passkey)
    rp = make_relying_party(skip_consent=True, require_mfa=True)
    pkce = Pkce()

    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    assert tokens is not None
    claims = verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")

    # RFC 8176 §2: the key kind, user verification, several factors; no password was used.
    assert claims["amr"] == [key, "user", "mfa"]
    assert claims["acr"] == "urn:authserver:acr:mfa"


# --- refusals ---------------------------------------------------------------------------------


def stored_count() -> int:
    db.session.expire_all()
    return int(db.session.scalars(select(Passkey)).one().sign_count)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"origin": "http://localhost:9999"}, "passkey-origin"),
        ({"rp_id": "example.com"}, "passkey-rp-id"),
        ({"uv": False}, "passkey-user-verification"),
    ],
)
def test_a_wrong_assertion_is_refused_and_counted(
    app: Flask, user: None, answer: dict[str, Any], reason: str
) -> None:
    passkey = registered(app)
    client = app.test_client()

    response = passkey_sign_in(client, passkey, **answer)

    assert response.status_code == 401
    assert response.json is not None and "not accepted" in response.json["error"]
    assert client.get("/account").status_code == 303  # no session
    assert the_user().failed_logins == 1
    assert reason in json.dumps(last_failure_detail())


def last_failure_detail() -> Any:
    row = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.event == "user:login:failure")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert row is not None
    return row.detail


def test_a_challenge_answers_once(app: Flask, user: None) -> None:
    passkey = registered(app)
    client = app.test_client()
    asked = options(client, "/login/passkey/options", page="/login")
    first = passkey.get(asked)
    replay = passkey.get(asked)  # the same challenge, signed again with a higher counter

    assert (
        post_form(client, "/login/passkey", {"credential": first}, page="/login").status_code == 200
    )
    other = app.test_client()
    replayed = post_form(other, "/login/passkey", {"credential": replay}, page="/login")

    assert replayed.status_code == 401
    assert other.get("/account").status_code == 303
    assert "passkey-challenge" in json.dumps(last_failure_detail())


def test_an_expired_challenge_is_refused(app: Flask, user: None) -> None:
    passkey = registered(app)
    client = app.test_client()
    asked = options(client, "/login/passkey/options", page="/login")

    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=301), tick=False):
        response = passkey_sign_in_with(client, passkey.get(asked))

    assert response.status_code == 401


def passkey_sign_in_with(client: FlaskClient, credential: dict[str, Any]) -> TestResponse:
    return post_form(client, "/login/passkey", {"credential": credential}, page="/login")


@pytest.mark.parametrize("credential", ["", "not json", "[]", '{"id": "x"}'])
def test_a_malformed_answer_is_a_plain_refusal(app: Flask, user: None, credential: str) -> None:
    client = app.test_client()

    response = post_form(client, "/login/passkey", {"credential": credential}, page="/login")

    assert response.status_code == 401
    assert response.json is not None and set(response.json) == {"error"}


def test_an_unknown_passkey_is_refused(app: Flask, user: None) -> None:
    registered(app)
    stranger = SoftPasskey(user_handle=b"someone")

    response = passkey_sign_in(app.test_client(), stranger)

    assert response.status_code == 401


def test_a_counter_going_backwards_is_refused_audited_and_mailed(
    make_app: Any, app: Flask, tmp_path: Any
) -> None:
    site = make_app(mail_backend="file", mail_file_dir=str(tmp_path / "outbox"))
    with site.app_context():
        make_user()
        passkey = registered(site)
        assert passkey_sign_in(site.test_client(), passkey, sign_count=7).status_code == 200
        client = site.test_client()

        response = passkey_sign_in(client, passkey, sign_count=3)

        assert response.status_code == 401
        assert stored_count() == 7
        assert "user:passkey:counter:failure" in audit_tags("failure")
        [mail] = [m for m in read_outbox(tmp_path / "outbox") if "passkey" in m["Subject"]]
        assert mail["To"] == DEFAULT_EMAIL
        assert "signature counter was lower" in text_of(mail)


def test_passkey_failures_lock_the_account_like_wrong_passwords(app: Flask, user: None) -> None:
    passkey = registered(app)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for _ in range(5):
        assert passkey_sign_in(client, passkey, uv=False).status_code == 401

    locked = passkey_sign_in(client, passkey)

    assert locked.status_code == 401  # right this time, but the account is locked
    assert the_user().locked_until is not None
    assert "user:lockout" in audit_tags()


# --- as the second step -----------------------------------------------------------------------


def test_a_passkey_completes_a_password_sign_in_instead_of_a_code(app: Flask, user: None) -> None:
    setup = signed_in(app)
    enrol(setup)
    passkey = a_passkey()
    assert register(setup, passkey).status_code == 200
    client = app.test_client()
    assert sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).headers["Location"].startswith("/mfa")
    page = client.get("/mfa").text
    assert "Use a passkey instead" in page

    asked = options(client, "/mfa/passkey/options", page="/mfa")
    body = {"credential": passkey.get(asked), "next": "/account"}
    response = post_form(client, "/mfa/passkey", body, page="/mfa")

    assert response.status_code == 200
    assert response.json == {"location": "/account"}
    assert [c["id"] for c in asked["allowCredentials"]] == [b64url(passkey.credential_id)]
    assert client.get("/account").status_code == 200
    assert "user:mfa:verify" in audit_tags()
    again = post_form(client, "/mfa/passkey", body, page="/account")
    assert again.status_code == 401  # used up, and the pending sign-in with it


def test_the_id_token_of_password_and_passkey_says_both(app: Flask, user: None) -> None:
    setup = signed_in(app)
    enrol(setup)
    passkey = a_passkey()
    register(setup, passkey)
    client = app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    asked = options(client, "/mfa/passkey/options", page="/mfa")
    post_form(client, "/mfa/passkey", {"credential": passkey.get(asked)}, page="/mfa")
    rp = make_relying_party(skip_consent=True, require_mfa=True)
    pkce = Pkce()

    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    assert tokens is not None
    claims = verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")

    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]


def test_a_passkey_steps_up_a_password_session_for_a_client_that_wants_mfa(
    app: Flask, user: None
) -> None:
    passkey = registered(app)
    client = signed_in(app)  # the password alone: no authenticator app
    rp = make_relying_party(skip_consent=True, require_mfa=True)
    pkce = Pkce()
    asked = options(client, "/mfa/passkey/options", page="/account")

    stepped = post_form(client, "/mfa/passkey", {"credential": passkey.get(asked)}, page="/account")
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json

    assert stepped.status_code == 200
    assert tokens is not None
    claims = verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]


def test_someone_with_passkeys_and_no_app_is_asked_for_a_passkey_not_sent_to_set_up_an_app(
    app: Flask, user: None
) -> None:
    registered(app)
    client = signed_in(app)  # the password alone: no authenticator app

    page = client.get("/mfa?next=/account")

    assert page.status_code == 200
    assert 'id="passkey-sign-in"' in page.text and "Use a passkey</button>" in page.text
    assert 'name="code"' not in page.text  # no code to give: the app was never set up
    assert 'name="csrf_token"' in page.text  # the script's token for its form posts


def test_someone_with_neither_passkeys_nor_an_app_is_sent_to_set_up_an_app(
    app: Flask, user: None
) -> None:
    client = signed_in(app)

    page = client.get("/mfa?next=/account")

    assert page.status_code == 303
    assert page.headers["Location"].startswith("/account/mfa")

"""A refresh response lost on the way: the retry gets the same successor, once, briefly.

AUTHSERVER_REFRESH_REUSE_GRACE_SECONDS (default 30): a rotated refresh token presented again
by its client within that time, while its successor is unused, answers 200 with the successor
the first answer carried and a fresh access token. After the window, on a third presentation,
or once the successor has been used, a reuse revokes the family (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from authserver.config import app_settings
from authserver.extensions import db
from authserver.models.audit import AuditEvent
from tests.conftest import AppFactory
from tests.oauth.test_dpop_token import code_exchange, with_proof
from tests.oauth.test_token_endpoint import refresh, tokens_for
from tests.support.dpop import ProofKey
from tests.support.oauth import ISSUER, make_relying_party, make_user, sign_in, verify_jwt

GRACE_SECONDS = 30  # the default


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


def audit_details(tag: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == tag)).all()
    return [row.detail for row in rows]


def assert_family_revoked(client: FlaskClient, rp: Any, *refresh_tokens: str) -> None:
    for each in refresh_tokens:
        assert refresh(client, rp, each).json["error"] == "invalid_grant"
    assert "token:refresh-reuse:failure" in db.session.scalars(select(AuditEvent.event)).all()


def test_a_retry_within_the_grace_gets_the_same_successor_and_a_new_access_token(
    signed_in: FlaskClient,
) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    lost = refresh(signed_in, rp, first["refresh_token"]).json  # the answer that never arrived

    retry = refresh(signed_in, rp, first["refresh_token"])

    assert retry.status_code == 200, retry.json
    assert retry.json["refresh_token"] == lost["refresh_token"]
    assert retry.json["access_token"] != lost["access_token"]
    claims = verify_jwt(signed_in, retry.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["scope"] == "openid profile email offline_access"
    assert verify_jwt(signed_in, retry.json["id_token"], audience=rp.client_id, typ="JWT")
    issued = audit_details("token:issue")
    assert [each.get("refresh_token_repeated") for each in issued] == [None, None, True]
    # The client carries on with the successor as if nothing had happened.
    onward = refresh(signed_in, rp, retry.json["refresh_token"])
    assert onward.status_code == 200, onward.json
    assert onward.json["refresh_token"] not in (first["refresh_token"], lost["refresh_token"])


def test_a_third_presentation_is_a_reuse_and_revokes_the_family(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    successor = refresh(signed_in, rp, first["refresh_token"]).json["refresh_token"]
    assert refresh(signed_in, rp, first["refresh_token"]).status_code == 200

    third = refresh(signed_in, rp, first["refresh_token"])

    assert third.status_code == 400
    assert third.json["error"] == "invalid_grant"
    assert_family_revoked(signed_in, rp, successor)


def test_a_reuse_after_the_grace_revokes_the_family(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    successor = refresh(signed_in, rp, first["refresh_token"]).json["refresh_token"]

    later = datetime.now(UTC) + timedelta(seconds=GRACE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        late = refresh(signed_in, rp, first["refresh_token"])
        assert late.json["error"] == "invalid_grant"
        assert_family_revoked(signed_in, rp, successor)


def test_once_the_successor_is_used_the_old_token_is_a_reuse(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    successor = refresh(signed_in, rp, first["refresh_token"]).json["refresh_token"]
    newest = refresh(signed_in, rp, successor).json["refresh_token"]

    replayed = refresh(signed_in, rp, first["refresh_token"])

    assert replayed.json["error"] == "invalid_grant"
    assert_family_revoked(signed_in, rp, newest)


def test_a_grace_of_zero_forgives_nothing(app: Flask, make_app: AppFactory) -> None:
    strict = make_app(
        encryption_keys=app_settings(app).encryption_keys, refresh_reuse_grace_seconds=0
    )
    client = strict.test_client()
    with strict.app_context():
        make_user()
        sign_in(client)
        rp = make_relying_party()
        first = tokens_for(client, rp)
        successor = refresh(client, rp, first["refresh_token"]).json["refresh_token"]

        assert refresh(client, rp, first["refresh_token"]).json["error"] == "invalid_grant"
        assert_family_revoked(client, rp, successor)


def test_another_client_gets_nothing_and_spoils_nothing(signed_in: FlaskClient) -> None:
    rp, other = make_relying_party(), make_relying_party(name="Other App")
    first = tokens_for(signed_in, rp)
    lost = refresh(signed_in, rp, first["refresh_token"]).json

    stranger = refresh(signed_in, other, first["refresh_token"])
    retry = refresh(signed_in, rp, first["refresh_token"])

    assert stranger.json["error"] == "invalid_grant"
    assert retry.json["refresh_token"] == lost["refresh_token"]


def test_a_bound_token_is_forgiven_only_with_its_own_dpop_key(signed_in: FlaskClient) -> None:
    """RFC 9449 §5: a public client's refresh token is bound to its key; a retry with another
    key is not the client retrying, and is treated as the reuse it is."""
    key, thief = ProofKey.es256(), ProofKey.ed25519()
    rp = make_relying_party(token_endpoint_auth_method="none")
    first = code_exchange(signed_in, rp, key.proof()).json
    lost = refresh(with_proof(signed_in, key.proof()), rp, first["refresh_token"]).json

    retry = refresh(with_proof(signed_in, key.proof()), rp, first["refresh_token"])
    assert retry.status_code == 200, retry.json
    assert retry.json["refresh_token"] == lost["refresh_token"]
    assert retry.json["token_type"] == "DPoP"

    rp_two = make_relying_party(token_endpoint_auth_method="none", name="Second App")
    second = code_exchange(signed_in, rp_two, key.proof()).json
    successor = refresh(with_proof(signed_in, key.proof()), rp_two, second["refresh_token"]).json
    stolen = refresh(with_proof(signed_in, thief.proof()), rp_two, second["refresh_token"])
    assert stolen.json["error"] == "invalid_grant"
    still = refresh(with_proof(signed_in, key.proof()), rp_two, successor["refresh_token"])
    assert still.json["error"] == "invalid_grant"  # the family is revoked


def test_the_database_never_holds_the_successor_in_usable_form(signed_in: FlaskClient) -> None:
    """What the second answer hands out is worked out again from the presented token; nothing
    stored equals it, so reading the database does not yield a usable refresh token."""
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    successor = refresh(signed_in, rp, first["refresh_token"]).json["refresh_token"]
    assert refresh(signed_in, rp, first["refresh_token"]).json["refresh_token"] == successor

    rows = db.session.execute(text("SELECT * FROM refresh_tokens")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert successor not in stored
    assert first["refresh_token"] not in stored


def test_two_instances_presenting_at_once_hand_out_one_successor(
    app: Flask, make_app: AppFactory
) -> None:
    """Three presentations of one token racing on two instances: the rotation and the one
    forgiven retry carry the same successor; the third is a reuse (on PostgreSQL the family
    lock orders them, on SQLite the write lock)."""
    other = make_app(encryption_keys=app_settings(app).encryption_keys)
    browser = app.test_client()
    make_user()
    sign_in(browser)
    rp = make_relying_party()
    first = tokens_for(browser, rp)
    answers: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def present(instance: Flask) -> None:
        with instance.app_context():
            start.wait(timeout=10)
            answer = refresh(instance.test_client(), rp, first["refresh_token"])
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=present, args=(each,)) for each in (app, other, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    successors = {each.json["refresh_token"] for each in answers if each.status_code == 200}
    refused = [each.json["error"] for each in answers if each.status_code != 200]
    assert len(successors) == 1 and refused == ["invalid_grant"], [a.json for a in answers]
    assert_family_revoked(browser, rp, successors.pop())

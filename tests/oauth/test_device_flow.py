"""The device authorization grant (RFC 8628) end to end: a device, a person, the pages, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from authserver.models.device_codes import DeviceCode
from tests.support.device import (
    DEVICE_GRANT,
    USER_CODE_SHAPE,
    answer,
    enter_code,
    make_device_client,
    poll,
    reach_consent,
    start,
)
from tests.support.oauth import ISSUER, left_half_hash, make_user, token_request, verify_jwt

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def events(name: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_a_device_polls_until_the_person_approves_then_gets_verifiable_tokens(
    client: FlaskClient, app: Flask
) -> None:
    user = make_user()
    rp = make_device_client()
    browser = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        begun = start(client, rp, scope="openid profile offline_access")

        assert USER_CODE_SHAPE.fullmatch(begun.user_code)
        assert begun.body["verification_uri"] == ISSUER + "/device"
        complete = urlsplit(begun.body["verification_uri_complete"])
        assert complete.path == "/device"
        assert parse_qs(complete.query) == {"user_code": [begun.user_code]}
        assert (begun.body["expires_in"], begun.body["interval"]) == (600, 5)

        pending = poll(client, rp, begun.device_code)
        assert (pending.status_code, pending.json["error"]) == (400, "authorization_pending")
        assert pending.headers["Cache-Control"] == "no-store"

        too_fast = poll(client, rp, begun.device_code)
        assert (too_fast.status_code, too_fast.json["error"]) == (400, "slow_down")
        assert too_fast.json["interval"] == 10  # RFC 8628 §3.5: 5 more seconds
        clock.shift(timedelta(seconds=6))  # the old interval is no longer enough
        assert poll(client, rp, begun.device_code).json["error"] == "slow_down"
        assert poll(client, rp, begun.device_code).json["interval"] == 20

        consent = reach_consent(browser, begun.user_code, user.email)
        assert "Living Room TV" in consent.text
        assert "Your name" in consent.text and "<code>offline_access</code>" in consent.text
        assert "<code>email</code>" not in consent.text  # not asked for
        done = answer(browser, consent, "allow")
        assert done.status_code == 200
        assert "may continue on your device" in done.text

        clock.shift(timedelta(seconds=21))
        issued = poll(client, rp, begun.device_code)

    assert issued.status_code == 200, issued.text
    body = issued.json
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile offline_access"
    assert body["refresh_token"]
    with time_machine.travel(START + timedelta(seconds=40), tick=False):
        access = verify_jwt(client, body["access_token"], audience=ISSUER, typ="at+jwt")
        id_token = verify_jwt(client, body["id_token"], audience=rp.client_id, typ="JWT")
    assert (access["sub"], access["client_id"]) == (user.subject, rp.client_id)
    assert access["scope"] == "openid profile offline_access"
    assert access["amr"] == ["pwd"]
    assert id_token["sub"] == user.subject
    assert id_token["at_hash"] == left_half_hash(body["access_token"], "RS256")
    assert "nonce" not in id_token and "sid" not in id_token  # no browser session of its own

    refreshed = poll(client, rp, begun.device_code)
    assert (refreshed.status_code, refreshed.json["error"]) == (400, "invalid_grant")
    assert refreshed.json["error_description"] == "The device_code has been used already."

    [approval] = events("device:approve")
    assert (approval.user_subject, approval.client_id) == (user.subject, rp.client_id)
    assert approval.detail["scope"] == "openid profile offline_access"
    assert len(events("consent:give")) == 1
    [issue] = events("token:issue")
    assert issue.detail["grant_type"] == DEVICE_GRANT
    assert issue.detail["issued"] == ["access_token", "id_token", "refresh_token"]


def test_the_refresh_token_from_a_device_grant_refreshes(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client()
    begun = start(client, rp, scope="openid offline_access")
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")
    tokens = poll(client, rp, begun.device_code).json

    refreshed = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


def test_a_public_client_needs_only_its_client_id(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client(token_endpoint_auth_method="none", grant_types=(DEVICE_GRANT,))
    begun = start(client, rp, scope="openid")
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")

    body = poll(client, rp, begun.device_code).json

    assert "refresh_token" not in body  # the client may not refresh
    claims = verify_jwt(client, body["id_token"], audience=rp.client_id, typ="JWT")
    assert claims["sub"] == user.subject


def test_a_denied_request_answers_access_denied(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client()
    begun = start(client, rp)
    browser = app.test_client()
    consent = reach_consent(browser, begun.user_code, user.email)

    done = answer(browser, consent, "deny")

    assert done.status_code == 200 and "Access denied" in done.text
    denied = poll(client, rp, begun.device_code)
    assert (denied.status_code, denied.json["error"]) == (400, "access_denied")
    [row] = events("device:deny")
    assert (row.user_subject, row.client_id) == (user.subject, rp.client_id)
    assert events("consent:give") == []
    # Answered once: the same form posted again, or the code entered again, leads nowhere.
    assert answer(browser, consent, "allow").status_code == 400
    entered_again = enter_code(browser, begun.user_code)
    assert entered_again.status_code == 400
    assert poll(client, rp, begun.device_code).json["error"] == "access_denied"
    [failure] = events("device:user-code:failure")
    assert failure.detail == {"reason": "decided"} and failure.user_subject == user.subject


def test_an_expired_code_answers_expired_token_and_the_page_refuses_it(
    client: FlaskClient, app: Flask
) -> None:
    user = make_user()
    rp = make_device_client()
    browser = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        begun = start(client, rp)
        consent = reach_consent(browser, begun.user_code, user.email)
        clock.shift(timedelta(seconds=601))

        expired = poll(client, rp, begun.device_code)
        late_answer = answer(browser, consent, "allow")
        late_entry = enter_code(browser, begun.user_code)

    assert (expired.status_code, expired.json["error"]) == (400, "expired_token")
    assert late_answer.status_code == 400 and "no longer open" in late_answer.text
    assert late_entry.status_code == 400 and "not valid or has expired" in late_entry.text
    assert events("device:approve") == []
    [failure] = events("device:user-code:failure")
    assert failure.outcome == "failure" and failure.detail == {"reason": "expired"}


def test_only_the_client_it_was_issued_to_can_redeem_a_device_code(
    client: FlaskClient, app: Flask
) -> None:
    user = make_user()
    rp = make_device_client()
    other = make_device_client(name="Other TV")
    begun = start(client, rp)
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")

    stolen = poll(client, other, begun.device_code)

    assert (stolen.status_code, stolen.json["error"]) == (400, "invalid_grant")
    assert stolen.json["error_description"] == "The device_code is not valid."
    assert poll(client, rp, begun.device_code).status_code == 200  # untouched by the attempt


def test_the_code_is_stored_only_as_hashes(client: FlaskClient) -> None:
    rp = make_device_client()
    begun = start(client, rp)

    [row] = db.session.scalars(select(DeviceCode)).all()
    stored = " ".join(str(value) for value in row.__dict__.values())
    assert begun.device_code not in stored
    assert begun.user_code not in stored and begun.user_code.replace("-", "") not in stored

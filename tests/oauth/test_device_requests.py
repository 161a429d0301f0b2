"""The device authorization grant's edges: bad requests, guessing, the QR page, MFA, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models.audit import AuditEvent
from authserver.models.device_codes import DeviceCode
from authserver.oauth.apis import ApiRegistration, register_api
from authserver.sessions import ACR_MFA
from tests.conftest import AppFactory
from tests.support.device import (
    DEVICE_AUTHORIZATION_PATH,
    DEVICE_GRANT,
    answer,
    device_authorization,
    enter_code,
    make_device_client,
    poll,
    reach_consent,
    start,
)
from tests.support.mfa import answer_challenge, enrol, frozen_clock, next_of
from tests.support.oauth import (
    ISSUER,
    PASSWORD,
    csrf_token,
    make_relying_party,
    make_user,
    sign_in,
    token_request,
    verify_jwt,
)
from tests.support.web import sign_in as web_sign_in

WRONG_CODE = "That code is not valid or has expired."


def count_rows(model: type[object]) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def audit(name: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


# --- the device authorization endpoint -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error", "description"),
    [
        ({"scope": "openid admin"}, "invalid_scope", "Scope not allowed for this client: admin."),
        ({"scope": 'openid "x'}, "invalid_scope", "The scope is malformed."),
        (
            {"scope": "openid", "resource": "https://unknown.example/api"},
            "invalid_target",
            "The resource is unknown or not for this client.",
        ),
        (
            {"scope": "openid", "resource": "not a uri"},
            "invalid_target",
            "The resource is not an absolute URI.",
        ),
    ],
)
def test_scope_and_resource_are_checked_as_at_the_authorization_endpoint(
    client: FlaskClient, params: dict[str, str], error: str, description: str
) -> None:
    rp = make_device_client()

    response = device_authorization(client, rp, **params)

    assert response.status_code == 400
    assert response.json == {"error": error, "error_description": description}
    assert count_rows(DeviceCode) == 0


def test_an_api_named_by_resource_becomes_the_tokens_audience(
    client: FlaskClient, app: Flask
) -> None:
    register_api(
        ApiRegistration(identifier="https://orders.example/api", name="Orders", scopes=("orders",))
    )
    user = make_user()
    rp = make_device_client(scope="openid orders")
    begun = start(client, rp, scope="openid orders", resource="https://orders.example/api")
    browser = app.test_client()
    consent = reach_consent(browser, begun.user_code, user.email)
    assert "It will use this access with: Orders." in consent.text
    answer(browser, consent, "allow")

    body = poll(client, rp, begun.device_code).json

    assert body["scope"] == "orders"
    claims = verify_jwt(
        client, body["access_token"], audience="https://orders.example/api", typ="at+jwt"
    )
    assert claims["scope"] == "orders"


def test_unknown_parameters_are_ignored(client: FlaskClient) -> None:
    rp = make_device_client()

    response = device_authorization(client, rp, scope="openid", colour="blue")

    assert response.status_code == 200, response.text


def test_without_a_scope_the_registered_default_applies(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client(scope="openid profile")
    response = client.post(
        DEVICE_AUTHORIZATION_PATH, data={"client_id": rp.client_id}, headers=rp.basic_auth()
    )
    assert response.status_code == 200, response.text
    browser = app.test_client()
    answer(browser, reach_consent(browser, response.json["user_code"], user.email), "allow")

    assert poll(client, rp, response.json["device_code"]).json["scope"] == "openid profile"


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"scope": "openid"}, 401, "invalid_client"),  # a public client names itself
        ({"scope": "openid", "client_id": "nobody"}, 400, "invalid_client"),
    ],
)
def test_the_client_must_be_known(
    client: FlaskClient, data: dict[str, str], status: int, error: str
) -> None:
    make_device_client(token_endpoint_auth_method="none", grant_types=(DEVICE_GRANT,))

    response = client.post(DEVICE_AUTHORIZATION_PATH, data=data)

    assert (response.status_code, response.json["error"]) == (status, error)
    assert count_rows(DeviceCode) == 0


def test_a_confidential_client_must_authenticate(client: FlaskClient) -> None:
    rp = make_device_client()

    response = client.post(
        DEVICE_AUTHORIZATION_PATH, data={"client_id": rp.client_id, "scope": "openid"}
    )

    assert (response.status_code, response.json["error"]) == (401, "invalid_client")


def test_a_client_without_the_grant_is_refused(client: FlaskClient) -> None:
    rp = make_relying_party()  # authorization code and refresh only

    response = device_authorization(client, rp, scope="openid")

    assert (response.status_code, response.json["error"]) == (400, "unauthorized_client")
    assert count_rows(DeviceCode) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        ("scope=openid&scope=profile", "application/x-www-form-urlencoded", "invalid_request"),
        ('{"scope": "openid"}', "application/json", "invalid_request"),
    ],
)
def test_malformed_requests_are_refused(
    client: FlaskClient, body: str, content_type: str, error: str
) -> None:
    rp = make_device_client()

    response = client.post(
        DEVICE_AUTHORIZATION_PATH, data=body, content_type=content_type, headers=rp.basic_auth()
    )

    assert (response.status_code, response.json["error"]) == (400, error)


# --- the token endpoint --------------------------------------------------------------------------


def test_a_poll_without_or_with_an_unknown_device_code_is_refused(client: FlaskClient) -> None:
    rp = make_device_client()

    missing = token_request(client, rp, {"grant_type": DEVICE_GRANT})
    unknown = poll(client, rp, "not-a-device-code")

    assert missing.status_code == 400
    assert missing.json == {
        "error": "invalid_request",
        "error_description": "Missing 'device_code'.",
    }
    assert (unknown.status_code, unknown.json["error"]) == (400, "invalid_grant")


def test_a_client_without_the_grant_cannot_poll(client: FlaskClient) -> None:
    device = make_device_client()
    begun = start(client, device)
    other = make_relying_party()

    response = poll(client, other, begun.device_code)

    assert (response.status_code, response.json["error"]) == (400, "unauthorized_client")


def test_two_polls_at_once_on_two_instances_issue_tokens_once(
    client: FlaskClient, app: Flask, make_app: AppFactory
) -> None:
    user = make_user()
    rp = make_device_client()
    begun = start(client, rp)
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")
    keys = app.extensions["authserver.settings"].encryption_keys  # they share the signing keys
    instances = [make_app(encryption_keys=keys), make_app(encryption_keys=keys)]
    barrier = threading.Barrier(len(instances))
    statuses: list[int] = []

    def device_on(instance: Flask) -> None:
        device = instance.test_client()
        barrier.wait()
        statuses.append(poll(device, rp, begun.device_code).status_code)

    threads = [threading.Thread(target=device_on, args=(each,)) for each in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200, 400]
    assert len(audit("token:issue")) == 1


# --- the pages -----------------------------------------------------------------------------------


def test_the_code_page_fills_in_the_code_from_the_link(client: FlaskClient) -> None:
    page = client.get("/device?user_code=bcdf ghjk")

    assert page.status_code == 200
    assert '<label for="user_code">Code</label>' in page.text
    assert 'value="BCDF-GHJK"' in page.text
    assert '<button type="submit">Continue</button>' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


def test_the_code_is_read_whatever_its_case_dashes_and_spaces(
    client: FlaskClient, app: Flask
) -> None:
    rp = make_device_client()
    begun = start(client, rp)
    typed = " " + begun.user_code.lower().replace("-", " - ") + " "

    entered = enter_code(app.test_client(), typed)

    assert entered.status_code == 303
    assert urlsplit(entered.headers["Location"]).path == "/device/confirm"
    # The next pages carry a signed ticket, never the code itself.
    assert begun.user_code.replace("-", "") not in entered.headers["Location"]


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("BCDF-GHJ", "malformed"), ("AAAA-AAAA", "malformed"), ("BCDF-GHJK", "unknown")],
)
def test_a_wrong_code_says_so_and_is_audited(client: FlaskClient, typed: str, reason: str) -> None:
    page = enter_code(client, typed)

    assert page.status_code == 400
    assert WRONG_CODE in page.text
    [row] = audit("device:user-code:failure")
    assert (row.outcome, row.detail, row.client_id) == ("failure", {"reason": reason}, None)


def test_a_forged_or_stale_ticket_leads_nowhere(client: FlaskClient, app: Flask) -> None:
    make_user()
    sign_in(client)

    page = client.get("/device/confirm?request=forged")

    assert page.status_code == 400
    assert "no longer open" in page.text


def test_guessing_codes_is_rate_limited_per_address(make_app: AppFactory, app: Flask) -> None:
    limited = make_app(ratelimit_user_code="3/minute")
    with limited.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        rp = make_device_client()
        device = limited.test_client()
        begun = start(device, rp)
    guesser = limited.test_client()

    answers = [enter_code(guesser, "BCDF-GHJK").status_code for _ in range(4)]
    right_code_too = enter_code(guesser, begun.user_code)
    other_address = limited.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    elsewhere = enter_code(other_address, begun.user_code)

    assert answers == [400, 400, 400, 429]
    assert right_code_too.status_code == 429
    assert elsewhere.status_code == 303
    assert len(audit("device:user-code:failure")) == 3  # refused guesses are not even looked at


def test_the_qr_page_shows_the_complete_uri_without_looking_the_code_up(
    client: FlaskClient,
) -> None:
    page = client.get("/device/qr?user_code=bcdfghjk")

    assert page.status_code == 200
    assert "<svg " in page.text and 'class="qr-code"' in page.text
    assert f'aria-label="QR code for {ISSUER}/device?user_code=BCDF-GHJK"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/device/qr?user_code=nonsense").status_code == 400


def test_a_client_that_demands_mfa_sends_the_person_to_set_one_up(
    client: FlaskClient, app: Flask
) -> None:
    user = make_user()
    rp = make_device_client(require_mfa=True)
    begun = start(client, rp)
    browser = app.test_client()
    sign_in(browser, user.email)
    confirm = enter_code(browser, begun.user_code).headers["Location"]

    page = browser.get(confirm)
    page_ticket = parse_qs(urlsplit(confirm).query)["request"][0]
    posted = browser.post(
        "/device/confirm",
        data={
            "csrf_token": csrf_token(browser.get("/device")),
            "request": page_ticket,
            "decision": "allow",
        },
    )

    assert page.status_code == 303
    location = urlsplit(page.headers["Location"])
    assert location.path == "/account/mfa"
    assert parse_qs(location.query)["next"] == [confirm]
    assert posted.status_code == 303  # the consent form cannot stand in for the factor
    assert poll(client, rp, begun.device_code).json["error"] == "authorization_pending"


def test_revoking_the_app_cuts_off_the_device(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client()
    begun = start(client, rp, scope="openid offline_access")
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")
    tokens = poll(client, rp, begun.device_code).json
    account = browser.get("/account")
    assert "Living Room TV" in account.text

    revoked = browser.post(
        "/account/apps/revoke",
        data={"csrf_token": csrf_token(account), "client_id": rp.client_id},
    )

    assert revoked.status_code == 303
    refresh = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refresh.json["error"] == "invalid_grant"
    introspected = client.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, headers=rp.basic_auth()
    )
    assert introspected.json == {"active": False}


def test_a_person_with_an_authenticator_passes_the_challenge_and_the_tokens_say_so(
    client: FlaskClient, app: Flask
) -> None:
    with frozen_clock() as clock:
        make_user()
        setup = app.test_client()
        sign_in(setup)
        authenticator = enrol(setup).authenticator
        clock.next_step()
        rp = make_device_client(require_mfa=True)
        begun = start(client, rp)
        browser = app.test_client()
        confirm = enter_code(browser, begun.user_code).headers["Location"]
        to_sign_in = browser.get(confirm)
        signed_in = web_sign_in(
            browser, "ada@example.com", PASSWORD, next_path=next_of(to_sign_in.headers["Location"])
        )
        assert urlsplit(signed_in.headers["Location"]).path == "/mfa"
        resumed = answer_challenge(browser, authenticator.code(), signed_in.headers["Location"])
        assert resumed.headers["Location"] == confirm
        answer(browser, browser.get(confirm), "allow")

        tokens = poll(client, rp, begun.device_code).json

        claims = verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == ACR_MFA

"""Token exchange (RFC 8693): a service calls another service on behalf of the user.

The story: Ada signs in to the Shop, whose token is for the Orders API (resource=ORDERS). The
Orders service (the resource server client of ORDERS) exchanges that token for one for the
Billing API, and Billing exchanges its token in turn for one for the Ledger API. Every token
is verified with PyJWT against the published JWKS, as the receiving API would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from authserver.accounts.administration import disable_user
from authserver.extensions import db
from authserver.models.audit import AuditEvent
from authserver.models.users import User
from authserver.oauth.apis import ApiRegistration, register_api, update_api
from tests.oauth.test_dpop_token import with_proof
from tests.oauth.test_resource_indicators import authorize_with
from tests.support.dpop import ProofKey
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    redirect_params,
    sign_in,
    token_request,
    verify_jwt,
)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/"
LEDGER = "https://ledger.example.com/"
HR = "https://hr.example.com/"
# The Orders API lists invoices:read among its own scopes: it passes that one on to Billing.
SHOP_SCOPE = "openid orders:read invoices:read offline_access"


@pytest.fixture
def apis() -> None:
    register_api(ApiRegistration(ORDERS, "Orders", ["orders:read", "invoices:read"]))
    register_api(ApiRegistration(BILLING, "Billing", ["invoices:read", "invoices:write"]))
    register_api(ApiRegistration(LEDGER, "Ledger", ["invoices:read"]))
    register_api(ApiRegistration(HR, "HR", ["staff:read"]))


def grant(browser: FlaskClient, rp: RelyingParty, resources: list[str]) -> TestResponse:
    """The code flow for ``resources``, asking for every scope the client holds."""
    pkce = Pkce()
    response = authorize_with(browser, rp, pkce, resources, scope=rp.client.scope)
    return exchange_code(browser, rp, redirect_params(response)["code"], pkce)


def service(name: str, api: str, audiences: tuple[str, ...], **changes: Any) -> RelyingParty:
    """A resource server's client: it introspects ``api`` and may exchange for ``audiences``."""
    registration: dict[str, Any] = {
        "name": name,
        "redirect_uris": (),
        "grant_types": (TOKEN_EXCHANGE,),
        "scope": "invoices:read",
        "introspect_apis": (api,),
        "exchange_audiences": audiences,
    }
    return make_relying_party(**{**registration, **changes})


@pytest.fixture
def shop(apis: None) -> RelyingParty:
    return make_relying_party(name="Shop", scope=SHOP_SCOPE)


@pytest.fixture
def orders_service(apis: None) -> RelyingParty:
    return service("Orders service", ORDERS, (BILLING, HR))


@pytest.fixture
def billing_service(apis: None) -> RelyingParty:
    return service("Billing service", BILLING, (LEDGER,))


@pytest.fixture
def browser(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


@pytest.fixture
def user_token(browser: FlaskClient, shop: RelyingParty) -> str:
    """Ada's token for the Orders API, from the code flow with resource=ORDERS."""
    response = grant(browser, shop, [ORDERS])
    assert response.status_code == 200, response.json
    token: str = response.json["access_token"]
    return token


def exchange(
    client: FlaskClient, caller: RelyingParty, subject_token: str, **extra: str
) -> TestResponse:
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        **extra,
    }
    return token_request(client, caller, {k: v for k, v in data.items() if v is not None})


def claims(client: FlaskClient, token: str, audience: str) -> dict[str, Any]:
    return verify_jwt(client, token, audience=audience, typ="at+jwt")


def audit_rows() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def assert_error(response: TestResponse, error: str, description: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json == {"error": error, "error_description": description}
    assert response.headers["Cache-Control"] == "no-store"


def test_the_resource_server_exchanges_the_users_token_for_another_api(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    subject = claims(browser, user_token, ORDERS)

    response = exchange(browser, orders_service, user_token, resource=BILLING)

    body = response.json
    assert response.status_code == 200, body
    assert set(body) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "invoices:read"
    new = claims(browser, body["access_token"], BILLING)
    assert new["aud"] == BILLING
    assert new["sub"] == subject["sub"] == db.session.scalar(select(User.subject))
    assert new["client_id"] == orders_service.client_id
    assert new["act"] == {"sub": orders_service.client_id}  # RFC 8693 §4.1
    assert new["scope"] == "invoices:read"  # orders:read belongs to Orders only
    assert new["exp"] <= subject["exp"]
    assert 0 < body["expires_in"] <= subject["exp"] - new["iat"]


def test_audience_names_the_target_as_resource_does(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    by_audience = exchange(browser, orders_service, user_token, audience=BILLING)
    by_both = exchange(browser, orders_service, user_token, audience=BILLING, resource=BILLING)

    for response in (by_audience, by_both):
        assert response.status_code == 200, response.json
        assert claims(browser, response.json["access_token"], BILLING)["aud"] == BILLING


def test_an_exchanged_token_exchanged_again_nests_the_previous_actor(
    browser: FlaskClient,
    user_token: str,
    orders_service: RelyingParty,
    billing_service: RelyingParty,
) -> None:
    for_billing = exchange(browser, orders_service, user_token, resource=BILLING).json

    response = exchange(browser, billing_service, for_billing["access_token"], audience=LEDGER)

    assert response.status_code == 200, response.json
    new = claims(browser, response.json["access_token"], LEDGER)
    assert new["act"] == {
        "sub": billing_service.client_id,
        "act": {"sub": orders_service.client_id},
    }
    assert new["client_id"] == billing_service.client_id
    assert new["sub"] == claims(browser, user_token, ORDERS)["sub"]


def test_the_scope_may_be_narrowed_to_a_subset(
    browser: FlaskClient, shop: RelyingParty, apis: None
) -> None:
    wide = service("Orders service", ORDERS, (BILLING,))
    shop_scope = "openid orders:read invoices:read invoices:write"
    update_api(ORDERS, {"scopes": ["orders:read", "invoices:read", "invoices:write"]})
    token = grant(browser, make_relying_party(name="Shop 2", scope=shop_scope), [ORDERS])
    subject_token = token.json["access_token"]

    everything = exchange(browser, wide, subject_token, resource=BILLING)
    narrowed = exchange(browser, wide, subject_token, resource=BILLING, scope="invoices:write")

    assert everything.json["scope"] == "invoices:read invoices:write"
    assert narrowed.status_code == 200, narrowed.json
    assert narrowed.json["scope"] == "invoices:write"
    assert claims(browser, narrowed.json["access_token"], BILLING)["scope"] == "invoices:write"


def test_a_client_may_exchange_a_token_issued_to_itself(browser: FlaskClient, apis: None) -> None:
    shop = make_relying_party(
        name="Shop",
        scope=SHOP_SCOPE,
        grant_types=("authorization_code", "refresh_token", TOKEN_EXCHANGE),
        exchange_audiences=(BILLING,),
    )
    own_token = grant(browser, shop, [ORDERS]).json["access_token"]

    response = exchange(browser, shop, own_token, resource=BILLING)

    assert response.status_code == 200, response.json
    assert claims(browser, response.json["access_token"], BILLING)["act"] == {"sub": shop.client_id}


def test_the_new_token_lives_no_longer_than_the_subject_token(
    browser: FlaskClient, apis: None, orders_service: RelyingParty
) -> None:
    shop = make_relying_party(name="Shop", scope=SHOP_SCOPE, access_token_ttl=120)
    subject_token = grant(browser, shop, [ORDERS]).json["access_token"]
    subject = claims(browser, subject_token, ORDERS)

    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=60), tick=False):
        response = exchange(browser, orders_service, subject_token, resource=BILLING)
        assert response.status_code == 200, response.json
        new = claims(browser, response.json["access_token"], BILLING)

    assert new["exp"] == subject["exp"]
    assert response.json["expires_in"] == subject["exp"] - new["iat"] <= 61


def test_an_exchange_is_audited_and_introspection_shows_the_actor(
    browser: FlaskClient,
    user_token: str,
    orders_service: RelyingParty,
    billing_service: RelyingParty,
) -> None:
    token = exchange(browser, orders_service, user_token, resource=BILLING).json["access_token"]

    introspected = token_request(
        browser, billing_service, {"token": token}, path="/oauth/introspect"
    ).json
    db.session.expire_all()
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "token:exchange")).one()

    assert introspected["active"] is True
    assert introspected["act"] == {"sub": orders_service.client_id}
    assert introspected["aud"] == BILLING
    assert introspected["scope"] == "invoices:read"
    assert introspected["client_id"] == orders_service.client_id
    assert row.client_id == orders_service.client_id
    assert row.user_subject == claims(browser, user_token, ORDERS)["sub"]
    assert row.detail == {
        "grant_type": TOKEN_EXCHANGE,
        "scope": "invoices:read",
        "issued": ["access_token"],
        "resource": BILLING,
        "subject_client_id": claims(browser, user_token, ORDERS)["client_id"],
        "actors": [orders_service.client_id],
        "grant_id": claims(browser, user_token, ORDERS)["gid"],
    }
    assert token not in str(row.detail) and user_token not in str(row.detail)


def test_a_dpop_proof_binds_the_new_token(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    key = ProofKey.es256()

    response = exchange(
        with_proof(browser, key.proof()), orders_service, user_token, resource=BILLING
    )

    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    assert claims(browser, response.json["access_token"], BILLING)["cnf"] == {"jkt": key.thumbprint}


SUBJECT_REFUSED = "The subject_token is not an active access token meant for this client."
TARGET_REFUSED = "The audience or resource is unknown or not allowed for this client."


@pytest.mark.parametrize(
    ("extra", "error", "description"),
    [
        (
            {"resource": None},
            "invalid_request",
            "Name the target API with 'resource' or 'audience'.",
        ),
        ({"subject_token": ""}, "invalid_request", "Missing 'subject_token'."),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
            "invalid_request",
            "Only subject_token_type urn:ietf:params:oauth:token-type:access_token is supported.",
        ),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
            "Only requested_token_type urn:ietf:params:oauth:token-type:access_token is supported.",
        ),
        (
            {"actor_token": "anything", "actor_token_type": ACCESS_TOKEN_TYPE},
            "invalid_request",
            "actor_token is not supported: the authenticated client is the actor.",
        ),
        ({"subject_token": "not.a.token"}, "invalid_request", SUBJECT_REFUSED),
        ({"resource": "https://unknown.example.com/"}, "invalid_target", TARGET_REFUSED),
        ({"resource": LEDGER}, "invalid_target", TARGET_REFUSED),  # not in its policy
        ({"resource": "not a uri"}, "invalid_target", TARGET_REFUSED),
        (
            {"audience": LEDGER},
            "invalid_target",
            "'resource' and 'audience' must name the same API.",
        ),
        (
            {"resource": HR},
            "invalid_target",
            "None of the subject_token's scopes belongs to the target.",
        ),
        (
            {"scope": "invoices:write"},
            "invalid_scope",
            "The scope must be among the subject_token's scopes for the target.",
        ),
        (
            {"scope": "orders:read"},
            "invalid_scope",
            "The scope must be among the subject_token's scopes for the target.",
        ),
        ({"scope": 'bad"scope'}, "invalid_scope", "The scope is malformed."),
    ],
)
def test_refusals_change_nothing(
    browser: FlaskClient,
    user_token: str,
    orders_service: RelyingParty,
    extra: dict[str, str | None],
    error: str,
    description: str,
) -> None:
    before = audit_rows()
    parameters: dict[str, Any] = {"resource": BILLING, **extra}
    subject_token = parameters.pop("subject_token", user_token)

    response = exchange(browser, orders_service, subject_token, **parameters)

    assert_error(response, error, description)
    assert audit_rows() == before


def test_two_targets_are_refused(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": user_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    form = MultiDict([*data.items(), ("audience", BILLING), ("audience", HR)])
    response = browser.post("/oauth/token", data=form, headers=orders_service.basic_auth())

    assert_error(response, "invalid_target", "Ask for one target API per request.")


def test_a_client_without_the_grant_type_is_unauthorized(
    browser: FlaskClient, user_token: str, apis: None
) -> None:
    resource_server = service("Orders reader", ORDERS, (), grant_types=("client_credentials",))
    before = audit_rows()

    response = exchange(browser, resource_server, user_token, resource=BILLING)

    assert_error(
        response,
        "unauthorized_client",
        f"The client is not authorized to use 'grant_type={TOKEN_EXCHANGE}'",
    )
    assert audit_rows() == before


def test_a_token_meant_for_another_service_is_refused(
    browser: FlaskClient, user_token: str, billing_service: RelyingParty
) -> None:
    # Billing neither received this token (its aud is Orders) nor was it issued to Billing.
    response = exchange(browser, billing_service, user_token, audience=LEDGER)

    assert_error(response, "invalid_request", SUBJECT_REFUSED)


def test_a_revoked_subject_token_is_refused(
    browser: FlaskClient, user_token: str, shop: RelyingParty, orders_service: RelyingParty
) -> None:
    revoked = token_request(browser, shop, {"token": user_token}, path="/oauth/revoke")
    assert revoked.status_code == 200

    response = exchange(browser, orders_service, user_token, resource=BILLING)

    assert_error(response, "invalid_request", SUBJECT_REFUSED)


def test_a_subject_token_of_a_disabled_user_is_refused(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    user = db.session.scalars(select(User)).one()
    disable_user(user, now=datetime.now(UTC), via="test")

    response = exchange(browser, orders_service, user_token, resource=BILLING)

    assert_error(response, "invalid_request", SUBJECT_REFUSED)


def test_an_expired_subject_token_is_refused(
    browser: FlaskClient, user_token: str, orders_service: RelyingParty
) -> None:
    before = audit_rows()
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1), tick=False):
        response = exchange(browser, orders_service, user_token, resource=BILLING)

    assert_error(response, "invalid_request", SUBJECT_REFUSED)
    assert audit_rows() == before


def test_a_client_credentials_token_is_no_subject(
    browser: FlaskClient, apis: None, orders_service: RelyingParty
) -> None:
    # A machine token has no user to act for: exchanging it would only launder the client.
    machine = make_relying_party(
        name="Batch", redirect_uris=(), grant_types=("client_credentials",), scope="invoices:read"
    )
    token = token_request(
        browser, machine, {"grant_type": "client_credentials", "resource": ORDERS}
    ).json["access_token"]

    response = exchange(browser, orders_service, token, resource=BILLING)

    assert_error(response, "invalid_request", SUBJECT_REFUSED)


def test_discovery_lists_the_grant_type(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json

    assert TOKEN_EXCHANGE in metadata["grant_types_supported"]
    assert metadata["issuer"] == ISSUER

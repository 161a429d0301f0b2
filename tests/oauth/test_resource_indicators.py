"""Resource indicators (RFC 8707): tokens for one API, refused by every other.

Tokens are checked with PyJWT against the published JWKS, as the API itself would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.oauth.apis import ApiRegistration, register_api, update_api
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    authorization_params,
    consent,
    exchange_code,
    make_relying_party,
    make_user,
    redirect_params,
    sign_in,
    token_request,
    verify_jwt,
)

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/api"
HR = "https://hr.example.com/"
SCOPE = "openid orders:read orders:write bills:read offline_access"


@pytest.fixture
def apis() -> None:
    register_api(ApiRegistration(ORDERS, "Orders", ["orders:read", "orders:write"]))
    register_api(ApiRegistration(BILLING, "Billing", ["bills:read"]))
    # An API this app holds no scope of: it may not ask for it.
    register_api(ApiRegistration(HR, "HR", ["staff:read"]))


@pytest.fixture
def shop(apis: None) -> RelyingParty:
    return make_relying_party(name="Shop", scope=SCOPE)


@pytest.fixture
def browser(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


def authorize_with(
    browser: FlaskClient, rp: RelyingParty, pkce: Pkce, resources: list[str], scope: str = SCOPE
) -> TestResponse:
    pairs = list(authorization_params(rp, pkce, scope=scope).items())
    pairs += [("resource", resource) for resource in resources]
    response = browser.get("/oauth/authorize?" + urlencode(pairs))
    return consent(browser, response) if response.status_code == 200 else response


def grant(
    browser: FlaskClient, rp: RelyingParty, resources: list[str], **token_extra: Any
) -> TestResponse:
    pkce = Pkce()
    code = redirect_params(authorize_with(browser, rp, pkce, resources))["code"]
    return exchange_code(browser, rp, code, pkce, **token_extra)


def claims_for(browser: FlaskClient, token: str, audience: str) -> dict[str, Any]:
    return verify_jwt(browser, token, audience=audience, typ="at+jwt")


def refresh(browser: FlaskClient, rp: RelyingParty, token: str, **extra: Any) -> TestResponse:
    return token_request(
        browser, rp, {"grant_type": "refresh_token", "refresh_token": token, **extra}
    )


def test_a_token_for_one_api_carries_its_audience_and_only_its_scopes(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    response = grant(browser, shop, [ORDERS])

    body = response.json
    assert response.status_code == 200, body
    claims = claims_for(browser, body["access_token"], ORDERS)
    assert claims["aud"] == ORDERS
    assert claims["scope"] == "orders:read orders:write"
    # RFC 6749 §5.1: the response names the token's scope, narrower than the grant's.
    assert body["scope"] == "orders:read orders:write"
    # The ID token is the app's, as always.
    assert verify_jwt(browser, body["id_token"], audience=shop.client_id, typ="JWT")


def test_the_consent_page_names_the_apis(browser: FlaskClient, shop: RelyingParty) -> None:
    pairs = list(authorization_params(shop, Pkce(), scope=SCOPE).items())
    pairs += [("resource", ORDERS), ("resource", BILLING)]

    page = browser.get("/oauth/authorize?" + urlencode(pairs))

    assert page.status_code == 200
    assert "It will use this access with: Orders, Billing." in page.text


def test_a_token_for_one_api_is_refused_by_another_and_by_userinfo(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    token = grant(browser, shop, [ORDERS]).json["access_token"]

    with pytest.raises(jwt.InvalidAudienceError):
        claims_for(browser, token, BILLING)
    with pytest.raises(jwt.InvalidAudienceError):
        claims_for(browser, token, ISSUER)
    userinfo = browser.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]


def test_without_a_resource_the_token_is_for_the_issuer_as_before(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    body = grant(browser, shop, []).json

    claims = claims_for(browser, body["access_token"], ISSUER)
    assert claims["scope"] == SCOPE
    userinfo = browser.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.status_code == 200


@pytest.mark.parametrize(
    "resource",
    [
        "https://unknown.example.com/",  # no such API
        HR,  # an API the app holds no scope of
        "https://orders.example.com/#x",  # RFC 8707 §2: no fragment
        "orders",  # not an absolute URI
        "https://[::1/",  # not a URI at all
    ],
)
def test_the_authorization_request_refuses_a_resource_it_cannot_serve(
    browser: FlaskClient, shop: RelyingParty, resource: str
) -> None:
    params = redirect_params(authorize_with(browser, shop, Pkce(), [resource]))

    assert params["error"] == "invalid_target"
    assert "code" not in params


def test_unknown_and_forbidden_apis_get_the_same_answer(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    unknown = redirect_params(authorize_with(browser, shop, Pkce(), ["https://nope.example/"]))
    forbidden = redirect_params(authorize_with(browser, shop, Pkce(), [HR]))

    assert unknown == forbidden


def test_an_authorization_request_whose_scopes_miss_the_api_is_refused(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    response = authorize_with(browser, shop, Pkce(), [BILLING], scope="openid orders:read")

    assert redirect_params(response)["error"] == "invalid_target"


def test_a_grant_for_two_apis_gives_a_token_for_each_on_request(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    pkce = Pkce()
    code = redirect_params(authorize_with(browser, shop, pkce, [ORDERS, BILLING]))["code"]

    first = exchange_code(browser, shop, code, pkce, resource=BILLING).json
    # RFC 8707 §2.2: the refresh token may be narrowed to each of the grant's APIs in turn.
    second = refresh(browser, shop, first["refresh_token"], resource=ORDERS).json
    third = refresh(browser, shop, second["refresh_token"]).json

    assert claims_for(browser, first["access_token"], BILLING)["scope"] == "bills:read"
    assert claims_for(browser, second["access_token"], ORDERS)["scope"] == (
        "orders:read orders:write"
    )
    # Two APIs in the grant and none named: the token is for the issuer, with every scope.
    assert claims_for(browser, third["access_token"], ISSUER)["scope"] == SCOPE


def test_a_token_request_may_not_leave_the_grant_s_apis(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    pkce = Pkce()
    code = redirect_params(authorize_with(browser, shop, pkce, [ORDERS]))["code"]

    response = exchange_code(browser, shop, code, pkce, resource=BILLING)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_target"


def test_a_refused_refresh_keeps_the_refresh_token_usable(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    tokens = grant(browser, shop, [ORDERS]).json

    refused = refresh(browser, shop, tokens["refresh_token"], resource=BILLING)
    again = refresh(browser, shop, tokens["refresh_token"])

    assert refused.json["error"] == "invalid_target"
    # Nothing was rotated by the refused request: a typo does not cost the person the grant.
    assert again.status_code == 200, again.json
    assert claims_for(browser, again.json["access_token"], ORDERS)["aud"] == ORDERS


def test_one_resource_per_token_request(browser: FlaskClient, shop: RelyingParty) -> None:
    pkce = Pkce()
    code = redirect_params(authorize_with(browser, shop, pkce, [ORDERS, BILLING]))["code"]

    response = exchange_code(browser, shop, code, pkce, resource=[ORDERS, BILLING])

    assert response.json["error"] == "invalid_target"


def test_a_grant_without_resources_may_ask_for_any_api_of_the_app(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    body = grant(browser, shop, [], resource=BILLING).json

    assert claims_for(browser, body["access_token"], BILLING)["scope"] == "bills:read"


@pytest.mark.parametrize(
    "resource", ["https://[::1/", "x" * 3000, "https://orders.example.com/\x00", "", "orders"]
)
def test_the_token_endpoint_refuses_a_malformed_resource(
    client: FlaskClient, apis: None, resource: str
) -> None:
    worker = make_relying_party(
        name="Worker", grant_types=("client_credentials",), redirect_uris=(), scope="orders:read"
    )

    response = token_request(
        client, worker, {"grant_type": "client_credentials", "resource": resource}
    )

    assert response.status_code == 400
    assert response.json["error"] in ("invalid_target", "invalid_request")


def test_client_credentials_for_an_api(client: FlaskClient, apis: None) -> None:
    worker = make_relying_party(
        name="Worker",
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="orders:read bills:read",
    )

    allowed = token_request(
        client, worker, {"grant_type": "client_credentials", "resource": ORDERS}
    )
    refused = token_request(client, worker, {"grant_type": "client_credentials", "resource": HR})

    claims = claims_for(client, allowed.json["access_token"], ORDERS)
    assert (claims["sub"], claims["scope"]) == (worker.client_id, "orders:read")
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_target"


def test_an_api_s_token_lifetime_applies_to_its_tokens(
    browser: FlaskClient, shop: RelyingParty
) -> None:
    update_api(ORDERS, {"access_token_ttl": 120})

    body = grant(browser, shop, [ORDERS]).json

    claims = claims_for(browser, body["access_token"], ORDERS)
    assert claims["exp"] - claims["iat"] == 120 == body["expires_in"]


def test_discovery_says_resource_indicators_are_supported(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json

    assert metadata["resource_indicators_supported"] is True

"""Introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from authserver.oauth.apis import ApiRegistration, register_api
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)


@pytest.fixture
def issued(client: FlaskClient) -> tuple[RelyingParty, dict[str, Any]]:
    make_user()
    sign_in(client)
    rp = make_relying_party()
    pkce = Pkce()
    body = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    return rp, body


ORDERS_API = "https://orders.example.com/"


@pytest.fixture
def resource_server() -> RelyingParty:
    """The Orders API's resource server: it may introspect that API's tokens (RFC 7662 §4)."""
    register_api(ApiRegistration(ORDERS_API, "Orders", ["orders:read"]))
    return make_relying_party(
        name="Orders service",
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="",
        introspect_apis=(ORDERS_API,),
    )


@pytest.fixture
def orders_tokens(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> dict[str, Any]:
    """The same person's tokens from another app, which asked for the Orders API (RFC 8707)."""
    rp = make_relying_party(name="Shop", scope="openid orders:read offline_access")
    pkce = Pkce()
    code = obtain_code(
        client, rp, pkce, scope="openid orders:read offline_access", resource=ORDERS_API
    )
    tokens: dict[str, Any] = exchange_code(client, rp, code, pkce).json
    return tokens


def introspect(client: FlaskClient, caller: RelyingParty, token: str, **extra: str) -> Any:
    return token_request(client, caller, {"token": token, **extra}, path="/oauth/introspect")


def revoke(client: FlaskClient, caller: RelyingParty, token: str, **extra: str) -> Any:
    return token_request(client, caller, {"token": token, **extra}, path="/oauth/revoke")


def test_resource_server_introspects_a_token_for_its_api(
    client: FlaskClient, orders_tokens: dict[str, Any], resource_server: RelyingParty
) -> None:
    response = introspect(client, resource_server, orders_tokens["access_token"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["active"] is True
    assert body["aud"] == ORDERS_API
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "orders:read"


def test_a_client_introspects_its_own_access_token(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]]
) -> None:
    rp, tokens = issued

    body = introspect(client, rp, tokens["access_token"]).json

    assert body["active"] is True
    assert body["client_id"] == rp.client_id
    assert body["scope"] == "openid profile email offline_access"


def test_anyone_else_learns_only_that_the_token_is_inactive(
    client: FlaskClient,
    issued: tuple[RelyingParty, dict[str, Any]],
    orders_tokens: dict[str, Any],
    resource_server: RelyingParty,
) -> None:
    _, tokens = issued
    register_api(ApiRegistration("https://billing.example.com/", "Billing", ["bills:read"]))
    billing = make_relying_party(
        name="Billing service",
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="",
        introspect_apis=("https://billing.example.com/",),
    )
    machine = make_relying_party(
        name="Batch job", grant_types=("client_credentials",), redirect_uris=(), scope="jobs"
    )

    # RFC 7662 §4: another team's client, another API's resource server, and an API's
    # resource server asked about a token that is not for its API.
    answers = [
        introspect(client, machine, tokens["access_token"]).json,
        introspect(client, billing, orders_tokens["access_token"]).json,
        introspect(client, resource_server, tokens["access_token"]).json,
        introspect(client, resource_server, orders_tokens["refresh_token"]).json,
    ]

    assert answers == [{"active": False}] * 4


def test_refresh_token_is_introspectable_by_its_own_client_only(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> None:
    rp, tokens = issued

    own = introspect(client, rp, tokens["refresh_token"], token_type_hint="refresh_token")
    foreign = introspect(client, resource_server, tokens["refresh_token"])

    assert own.json["active"] is True
    assert own.json["token_type"] == "refresh_token"
    assert foreign.json == {"active": False}


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "a.b.c",
        "x" * 5000,
    ],
)
def test_unknown_or_forged_tokens_are_inactive(
    client: FlaskClient, resource_server: RelyingParty, token: str
) -> None:
    response = introspect(client, resource_server, token)

    assert response.status_code == 200
    assert response.json == {"active": False}


def test_introspection_requires_client_authentication(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]]
) -> None:
    _, tokens = issued

    response = client.post("/oauth/introspect", data={"token": tokens["access_token"]})

    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_public_clients_cannot_introspect(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]]
) -> None:
    _, tokens = issued
    public = make_relying_party(name="SPA", token_endpoint_auth_method="none")

    response = introspect(client, public, tokens["access_token"])

    assert response.json["error"] == "invalid_client"


def test_revoking_a_refresh_token_ends_its_family_and_access_tokens(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]]
) -> None:
    rp, tokens = issued

    response = revoke(client, rp, tokens["refresh_token"])

    assert response.status_code == 200
    assert introspect(client, rp, tokens["access_token"]).json == {"active": False}
    refreshed = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.json["error"] == "invalid_grant"


def test_revoking_an_access_token_leaves_the_refresh_token(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]]
) -> None:
    rp, tokens = issued

    assert (
        revoke(client, rp, tokens["access_token"], token_type_hint="access_token").status_code
        == 200
    )

    assert introspect(client, rp, tokens["access_token"]).json == {"active": False}
    assert introspect(client, rp, tokens["refresh_token"]).json["active"] is True


def test_unknown_token_revocation_is_200(
    client: FlaskClient, resource_server: RelyingParty
) -> None:
    assert revoke(client, resource_server, "no-such-token").status_code == 200


def test_another_clients_token_cannot_be_revoked(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> None:
    rp, tokens = issued

    response = revoke(client, resource_server, tokens["refresh_token"])

    assert response.status_code == 400
    assert introspect(client, rp, tokens["refresh_token"]).json["active"] is True

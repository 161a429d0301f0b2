"""Introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

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


@pytest.fixture
def resource_server() -> RelyingParty:
    return make_relying_party(
        name="API", grant_types=("client_credentials",), redirect_uris=(), scope="api:read"
    )


def introspect(client: FlaskClient, caller: RelyingParty, token: str, **extra: str) -> Any:
    return token_request(client, caller, {"token": token, **extra}, path="/oauth/introspect")


def revoke(client: FlaskClient, caller: RelyingParty, token: str, **extra: str) -> Any:
    return token_request(client, caller, {"token": token, **extra}, path="/oauth/revoke")


def test_resource_server_introspects_an_access_token(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> None:
    rp, tokens = issued

    response = introspect(client, resource_server, tokens["access_token"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["active"] is True
    assert body["client_id"] == rp.client_id
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access"


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
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> None:
    rp, tokens = issued

    response = revoke(client, rp, tokens["refresh_token"])

    assert response.status_code == 200
    assert introspect(client, resource_server, tokens["access_token"]).json == {"active": False}
    refreshed = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.json["error"] == "invalid_grant"


def test_revoking_an_access_token_leaves_the_refresh_token(
    client: FlaskClient, issued: tuple[RelyingParty, dict[str, Any]], resource_server: RelyingParty
) -> None:
    rp, tokens = issued

    assert (
        revoke(client, rp, tokens["access_token"], token_type_hint="access_token").status_code
        == 200
    )

    assert introspect(client, resource_server, tokens["access_token"]).json == {"active": False}
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

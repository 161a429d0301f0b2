"""Userinfo (OIDC Core §5.3) and RFC 6750 errors."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)


def access_token(client: FlaskClient, scope: str) -> str:
    make_user()
    sign_in(client)
    rp = make_relying_party()
    pkce = Pkce()
    body: dict[str, Any] = exchange_code(
        client, rp, obtain_code(client, rp, pkce, scope=scope), pkce
    ).json
    return str(body["access_token"])


def test_claims_follow_the_scopes(client: FlaskClient) -> None:
    token = access_token(client, "openid email")

    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert set(response.json) == {"sub", "email", "email_verified"}
    assert response.json["email"] == "ada@example.com"


def test_profile_scope_gives_the_name_and_post_works_too(client: FlaskClient) -> None:
    token = access_token(client, "openid profile")

    response = client.post("/oauth/userinfo", data={"access_token": token})

    assert response.json["name"] == "Ada Lovelace"
    assert "email" not in response.json


def test_missing_token_is_401_with_a_bare_challenge(client: FlaskClient) -> None:
    response = client.get("/oauth/userinfo")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="authserver"'


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_invalid_token_is_401_invalid_token(client: FlaskClient, token: str) -> None:
    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_without_openid_scope_is_insufficient_scope(client: FlaskClient) -> None:
    rp = make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api:read")
    token = token_request(client, rp, {"grant_type": "client_credentials"}).json["access_token"]

    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_id_token_is_not_an_access_token(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party()
    pkce = Pkce()
    id_token = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json["id_token"]

    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {id_token}"})

    assert response.status_code == 401


def test_token_in_header_and_body_is_invalid_request(client: FlaskClient) -> None:
    token = access_token(client, "openid")

    response = client.post(
        "/oauth/userinfo",
        data={"access_token": token},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"

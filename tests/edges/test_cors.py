"""CORS: public documents for everyone; token and userinfo for registered client origins."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.edges.origins import RegisteredOrigins, origin_of
from authserver.extensions import db
from authserver.models.clients import Client
from tests.support.oauth import make_relying_party

SPA = "https://spa.example.com"
STRANGER = "https://evil.example"


def register_spa() -> None:
    make_relying_party(redirect_uris=(SPA + "/callback",), token_endpoint_auth_method="none")


def preflight(client: FlaskClient, path: str, origin: str, method: str = "POST") -> TestResponse:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_public_documents_are_readable_from_any_origin(client: FlaskClient) -> None:
    for path in (
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ):
        response = client.get(path, headers={"Origin": STRANGER})

        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
        # One cached copy serves every origin.
        assert "Origin" not in response.headers.get("Vary", "")


def test_public_document_preflight(client: FlaskClient) -> None:
    response = preflight(client, "/.well-known/jwks.json", STRANGER, method="GET")

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD"


def test_token_preflight_from_a_registered_origin(client: FlaskClient) -> None:
    register_spa()

    response = preflight(client, "/oauth/token", SPA)

    assert response.status_code == 204
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == SPA
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, DPoP"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in headers


def test_token_preflight_from_other_origins_gets_no_permission(client: FlaskClient) -> None:
    register_spa()

    for origin in (
        STRANGER,
        "null",
        SPA + ".evil.example",
        "http://spa.example.com",
        SPA + ":8443",
    ):
        response = preflight(client, "/oauth/token", origin)

        assert response.status_code == 204
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Origin" in response.headers["Vary"]


def test_preflight_for_a_method_the_endpoint_lacks_gets_no_permission(client: FlaskClient) -> None:
    register_spa()

    response = preflight(client, "/oauth/token", SPA, method="DELETE")

    assert "Access-Control-Allow-Origin" not in response.headers


def test_token_answers_even_errors_readably_to_a_registered_origin(client: FlaskClient) -> None:
    register_spa()

    allowed = client.post(
        "/oauth/token", data={"grant_type": "authorization_code"}, headers={"Origin": SPA}
    )
    refused = client.post(
        "/oauth/token", data={"grant_type": "authorization_code"}, headers={"Origin": STRANGER}
    )

    assert allowed.status_code == 401 and allowed.json is not None  # no client credentials
    assert allowed.headers["Access-Control-Allow-Origin"] == SPA
    assert "WWW-Authenticate" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    assert refused.status_code == 401
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Origin" in refused.headers["Vary"]


def test_userinfo_errors_are_readable_by_a_registered_origin(client: FlaskClient) -> None:
    register_spa()

    response = client.get(
        "/oauth/userinfo", headers={"Origin": SPA, "Authorization": "Bearer not-a-token"}
    )

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]


def test_server_to_server_endpoints_have_no_cors(client: FlaskClient) -> None:
    register_spa()

    for path in ("/oauth/introspect", "/oauth/revoke"):
        asked = preflight(client, path, SPA)
        posted = client.post(path, data={"token": "x"}, headers={"Origin": SPA})

        assert "Access-Control-Allow-Origin" not in asked.headers
        assert "Access-Control-Allow-Origin" not in posted.headers


def test_pages_have_no_cors(client: FlaskClient) -> None:
    register_spa()

    response = client.get("/login", headers={"Origin": SPA})

    assert "Access-Control-Allow-Origin" not in response.headers


def test_origins_are_cached_not_queried_per_request(app: Flask) -> None:
    register_spa()
    now = [1000.0]
    origins = RegisteredOrigins(ttl_seconds=60)

    assert origins.contains(SPA, clock=lambda: now[0])
    for client in db.session.scalars(select(Client)):
        db.session.delete(client)
    db.session.commit()
    now[0] += 59
    assert origins.contains(SPA, clock=lambda: now[0]), "served from the cache within the TTL"
    now[0] += 2
    assert not origins.contains(SPA, clock=lambda: now[0]), "reloaded after the TTL"


def test_origin_serialisation_matches_browsers() -> None:
    assert origin_of("https://SPA.Example.com:443/cb?x=1") == "https://spa.example.com"
    assert origin_of("http://127.0.0.1:8080/cb") == "http://127.0.0.1:8080"
    assert origin_of("http://[::1]:9000/cb") == "http://[::1]:9000"
    assert origin_of("https://user:pw@spa.example.com/cb") == "https://spa.example.com"
    assert origin_of("com.example.app:/callback") is None
    assert origin_of("https://a.example;script-src */cb") is None
    assert origin_of("https://a.example:99999/cb") is None

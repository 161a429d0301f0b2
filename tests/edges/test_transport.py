"""Production TLS: pages redirect to https, protocol endpoints refuse plain http."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.edges.conftest import PRODUCTION_ISSUER
from tests.support.oauth import make_relying_party

TLS_ERROR = {
    "error": "invalid_request",
    "error_description": "TLS is required: send this request to the https URL.",
}


@pytest.fixture
def production(make_app: AppFactory) -> Flask:
    return make_app(env="production", issuer=PRODUCTION_ISSUER)


@pytest.fixture
def plain(production: Flask) -> FlaskClient:
    return production.test_client()  # http://localhost


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_pages_over_http_redirect_to_the_issuers_https_origin(
    plain: FlaskClient, method: str
) -> None:
    response = plain.open("/login?next=%2Faccount", method=method)

    assert response.status_code == 302
    assert response.headers["Location"] == PRODUCTION_ISSUER + "/login?next=%2Faccount"
    assert "Strict-Transport-Security" not in response.headers


def test_authorization_page_over_http_is_redirected_with_its_query(plain: FlaskClient) -> None:
    response = plain.get("/oauth/authorize?client_id=abc&state=x")

    assert response.status_code == 302
    assert (
        response.headers["Location"] == PRODUCTION_ISSUER + "/oauth/authorize?client_id=abc&state=x"
    )


def test_a_hostile_query_is_carried_over_safely(plain: FlaskClient) -> None:
    response = plain.get("/login", query_string="next=é x&y=%ZZ&z=<script>")

    assert response.status_code == 302
    assert response.headers["Location"] == (
        PRODUCTION_ISSUER + "/login?next=%C3%A9%20x&y=%ZZ&z=%3Cscript%3E"
    )


def test_a_forged_host_does_not_change_the_redirect_target(plain: FlaskClient) -> None:
    response = plain.get("/login", headers={"Host": "evil.example"})

    assert response.headers["Location"] == PRODUCTION_ISSUER + "/login"


def test_a_spoofed_forwarded_proto_from_an_untrusted_peer_is_ignored(plain: FlaskClient) -> None:
    response = plain.get("/login", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/login", "/oauth/authorize", "/oauth/authorize/consent",
                                  "/oauth/logout", "/account/profile"])  # fmt: skip
def test_a_form_post_over_http_is_refused_not_redirected(plain: FlaskClient, path: str) -> None:
    response = plain.post(path, data={"email": "ada@example.com", "password": "x"})

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert "TLS is required" in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/introspect"),
        ("POST", "/oauth/revoke"),
        ("GET", "/oauth/userinfo"),
        ("POST", "/oauth/userinfo"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/csp-report"),
    ],
)
def test_protocol_endpoints_over_http_answer_an_error(
    plain: FlaskClient, method: str, path: str
) -> None:
    response = plain.open(path, method=method, data={"grant_type": "client_credentials"})

    assert response.status_code == 400
    assert response.json == TLS_ERROR
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers


def test_a_client_over_http_gets_no_token(production: Flask, plain: FlaskClient) -> None:
    with production.app_context():
        rp = make_relying_party(grant_types=("client_credentials",), scope="api:read")

    response = plain.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=rp.basic_auth()
    )

    assert response.status_code == 400
    assert "access_token" not in response.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_over_http(plain: FlaskClient, path: str) -> None:
    assert plain.get(path).status_code == 200


def test_over_https_everything_answers_normally(production: Flask) -> None:
    client = production.test_client()

    page = client.get("/login", base_url="https://localhost")
    discovery = client.get("/.well-known/openid-configuration", base_url="https://localhost")

    assert page.status_code == 200
    assert discovery.status_code == 200
    assert discovery.json is not None and discovery.json["issuer"] == PRODUCTION_ISSUER


def test_development_serves_http(client: FlaskClient) -> None:
    assert client.get("/login").status_code == 200
    assert client.get("/.well-known/jwks.json").status_code == 200

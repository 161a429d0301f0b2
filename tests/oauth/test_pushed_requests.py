"""Pushed authorization requests (RFC 9126) through the test client: push, authorize, token."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models.pushed_requests import PushedAuthorizationRequest
from tests.conftest import AppFactory
from tests.support.mfa import frozen_clock
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

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


def push(browser: FlaskClient, rp: RelyingParty, params: dict[str, str]) -> Any:  # the response
    """POST the authorization request's parameters to the PAR endpoint, authenticated as the
    client authenticates at the token endpoint."""
    return token_request(browser, rp, params, path="/oauth/par")


def pushed_uri(browser: FlaskClient, rp: RelyingParty, pkce: Pkce, **extra: str) -> str:
    response = push(browser, rp, authorization_params(rp, pkce, **extra))
    assert response.status_code == 201, response.json
    return str(response.json["request_uri"])


def open_request_uri(browser: FlaskClient, rp: RelyingParty, request_uri: str, **extra: str) -> Any:
    query = {"client_id": rp.client_id, "request_uri": request_uri, **extra}
    return browser.get("/oauth/authorize?" + urlencode(query))


def stored_requests() -> int:
    return int(db.session.scalar(select(func.count()).select_from(PushedAuthorizationRequest)))


@pytest.fixture
def rp(app: Flask) -> RelyingParty:
    make_user()
    return make_relying_party()


def test_a_pushed_request_completes_the_code_flow(client: FlaskClient, rp: RelyingParty) -> None:
    pkce = Pkce()
    response = push(client, rp, authorization_params(rp, pkce))

    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["expires_in"] == 60
    request_uri = response.json["request_uri"]
    assert request_uri.startswith(REQUEST_URI_PREFIX)
    assert len(request_uri.removeprefix(REQUEST_URI_PREFIX)) >= 43  # 256 random bits
    sign_in(client)
    page = open_request_uri(client, rp, request_uri)
    returned = redirect_params(consent(client, page))
    assert returned["state"] == "state-123"
    assert returned["iss"] == ISSUER
    tokens = exchange_code(client, rp, returned["code"], pkce)
    assert tokens.status_code == 200, tokens.json
    id_token = verify_jwt(client, tokens.json["id_token"], audience=rp.client_id, typ="JWT")
    assert id_token["nonce"] == "nonce-456"


def test_only_the_hash_of_the_request_uri_is_stored_without_credentials(
    client: FlaskClient, rp: RelyingParty
) -> None:
    post_rp = make_relying_party(token_endpoint_auth_method="client_secret_post")
    request_uri = pushed_uri(client, post_rp, Pkce())

    row = db.session.scalars(select(PushedAuthorizationRequest)).one()
    random_part = request_uri.removeprefix(REQUEST_URI_PREFIX)
    assert random_part not in row.request_hash
    assert len(row.request_hash) == 64
    assert "client_secret" not in row.parameters
    assert row.parameters["client_id"] == [post_rp.client_id]
    assert (row.expires_at - row.created_at) == timedelta(seconds=60)


def test_query_parameters_beside_the_request_uri_are_ignored(
    client: FlaskClient, rp: RelyingParty
) -> None:
    """RFC 9126 §4: only the pushed parameters count."""
    pkce = Pkce()
    request_uri = pushed_uri(client, rp, pkce, scope="openid")
    sign_in(client)

    page = open_request_uri(
        client,
        rp,
        request_uri,
        redirect_uri="https://evil.example/cb",
        scope="openid profile email offline_access",
        state="forged",
        prompt="none",
    )
    returned = redirect_params(consent(client, page))

    assert returned["state"] == "state-123"
    tokens = exchange_code(client, rp, returned["code"], pkce)
    assert tokens.json["scope"] == "openid"


def test_the_browser_that_brought_the_request_continues_through_sign_in(
    app: Flask, rp: RelyingParty
) -> None:
    browser = app.test_client()
    pkce = Pkce()
    request_uri = pushed_uri(browser, rp, pkce)

    to_sign_in = open_request_uri(browser, rp, request_uri)
    assert to_sign_in.status_code == 302
    assert to_sign_in.headers["Location"].startswith("/login?next=")
    assert "authserver_par_browser" in to_sign_in.headers.get("Set-Cookie", "")
    sign_in(browser)
    page = open_request_uri(browser, rp, request_uri)  # where /login's next leads
    code = redirect_params(consent(browser, page))["code"]

    assert exchange_code(browser, rp, code, pkce).status_code == 200


def test_a_second_browser_is_refused_with_an_error_page(app: Flask, rp: RelyingParty) -> None:
    first, second = app.test_client(), app.test_client()
    request_uri = pushed_uri(first, rp, Pkce())
    assert open_request_uri(first, rp, request_uri).status_code == 302  # to sign in

    refused = open_request_uri(second, rp, request_uri)

    assert refused.status_code == 400
    assert "Location" not in refused.headers
    assert "another browser" in refused.text


def test_the_request_uri_is_spent_by_the_code(client: FlaskClient, rp: RelyingParty) -> None:
    request_uri = pushed_uri(client, rp, Pkce())
    sign_in(client)
    redirect_params(consent(client, open_request_uri(client, rp, request_uri)))

    again = open_request_uri(client, rp, request_uri)

    assert again.status_code == 400
    assert "Location" not in again.headers
    assert "used already" in again.text


def test_the_request_uri_is_spent_by_a_denial(client: FlaskClient, rp: RelyingParty) -> None:
    request_uri = pushed_uri(client, rp, Pkce())
    sign_in(client)
    page = open_request_uri(client, rp, request_uri)

    denied = redirect_params(consent(client, page, decision="deny"))
    assert denied["error"] == "access_denied"
    assert denied["state"] == "state-123"

    assert open_request_uri(client, rp, request_uri).status_code == 400
    # The consent form posted again (another tab) cannot turn the denial into a code.
    assert consent(client, page).status_code == 400


def test_an_error_sent_to_the_client_spends_the_request_uri(
    client: FlaskClient, rp: RelyingParty
) -> None:
    request_uri = pushed_uri(client, rp, Pkce(), prompt="none")

    answer = redirect_params(open_request_uri(client, rp, request_uri))

    assert answer["error"] == "login_required"
    assert open_request_uri(client, rp, request_uri).status_code == 400


def test_prompt_login_in_a_pushed_request_asks_once(client: FlaskClient, rp: RelyingParty) -> None:
    sign_in(client)
    request_uri = pushed_uri(client, rp, Pkce(), prompt="login")
    assert open_request_uri(client, rp, request_uri).headers["Location"].startswith("/login")
    sign_in(client)

    page = open_request_uri(client, rp, request_uri)

    assert "code" in redirect_params(consent(client, page))


def test_an_unused_request_uri_expires_after_60_seconds(app: Flask, rp: RelyingParty) -> None:
    with frozen_clock() as clock:
        browser = app.test_client()
        late = pushed_uri(browser, rp, Pkce())
        in_time = pushed_uri(browser, rp, Pkce())
        clock.advance(59)
        assert open_request_uri(browser, rp, in_time).status_code == 302  # to sign in
        clock.advance(2)

        expired = open_request_uri(browser, rp, late)

        assert expired.status_code == 400
        assert "Location" not in expired.headers
        assert "expired" in expired.text
        # The claimed one gives its browser time to sign in and consent.
        clock.advance(600)
        sign_in(browser)
        assert "code" in redirect_params(consent(browser, open_request_uri(browser, rp, in_time)))


def test_the_client_id_must_be_the_pushing_clients(client: FlaskClient, rp: RelyingParty) -> None:
    other = make_relying_party(name="Other App")
    request_uri = pushed_uri(client, rp, Pkce())

    refused = open_request_uri(client, other, request_uri)

    assert refused.status_code == 400
    assert "Location" not in refused.headers
    assert "not pushed by this application" in refused.text


@pytest.mark.parametrize("request_uri", [REQUEST_URI_PREFIX + "unknown", REQUEST_URI_PREFIX])
def test_an_unknown_request_uri_is_an_error_page(
    client: FlaskClient, rp: RelyingParty, request_uri: str
) -> None:
    refused = open_request_uri(client, rp, request_uri)

    assert refused.status_code == 400
    assert "invalid_request_uri" in refused.text


@pytest.mark.parametrize("failure", ["unknown client", "wrong secret", "no secret"])
def test_client_authentication_failures_are_401_invalid_client(
    client: FlaskClient, rp: RelyingParty, failure: str
) -> None:
    params = authorization_params(rp, Pkce())
    headers: dict[str, str] = {}
    if failure == "unknown client":
        params["client_id"] = "wrong"
        headers = {"Authorization": "Basic d3Jvbmc6c2VjcmV0"}  # wrong:secret
    elif failure == "wrong secret":
        headers = RelyingParty(rp.client, "not-the-secret").basic_auth()
    # "no secret": a confidential client sending only its client_id, as a public one would

    response = client.post("/oauth/par", data=params, headers=headers)

    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert stored_requests() == 0


def test_a_public_client_pushes_with_its_client_id(client: FlaskClient, rp: RelyingParty) -> None:
    public = make_relying_party(token_endpoint_auth_method="none")
    pkce = Pkce()
    request_uri = pushed_uri(client, public, pkce)
    sign_in(client)

    code = redirect_params(consent(client, open_request_uri(client, public, request_uri)))["code"]

    assert exchange_code(client, public, code, pkce).status_code == 200


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"nonce": "n" * 513}, "invalid_request"),
        ({"resource": "https://unknown.example/"}, "invalid_target"),
        ({"request_uri": REQUEST_URI_PREFIX + "x"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"id_token_hint": "not-a-token"}, "invalid_request"),
    ],
)
def test_invalid_parameters_are_json_errors_and_store_nothing(
    client: FlaskClient, rp: RelyingParty, change: dict[str, str | None], error: str
) -> None:
    params = {**authorization_params(rp, Pkce()), **change}
    params = {name: value for name, value in params.items() if value is not None}

    response = push(client, rp, params)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert stored_requests() == 0


def test_parameters_in_the_url_are_refused(client: FlaskClient, rp: RelyingParty) -> None:
    response = client.post(
        "/oauth/par?scope=openid", data=authorization_params(rp, Pkce()), headers=rp.basic_auth()
    )

    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_a_client_that_requires_par_is_refused_without_it(client: FlaskClient) -> None:
    make_user()
    strict = make_relying_party(require_par=True)
    sign_in(client)

    refused = client.get("/oauth/authorize?" + urlencode(authorization_params(strict, Pkce())))

    answer = redirect_params(refused)
    assert answer["error"] == "invalid_request"
    assert "pushed" in answer["error_description"]
    request_uri = pushed_uri(client, strict, Pkce())
    assert "code" in redirect_params(consent(client, open_request_uri(client, strict, request_uri)))


def test_the_server_wide_setting_requires_par_of_every_client(make_app: AppFactory) -> None:
    app = make_app(require_par=True)
    with app.app_context():
        make_user()
        rp = make_relying_party()
        browser = app.test_client()
        sign_in(browser)

        refused = browser.get("/oauth/authorize?" + urlencode(authorization_params(rp, Pkce())))

        assert redirect_params(refused)["error"] == "invalid_request"
        metadata = browser.get("/.well-known/openid-configuration").json
        assert metadata["require_pushed_authorization_requests"] is True
        request_uri = pushed_uri(browser, rp, Pkce())
        page = open_request_uri(browser, rp, request_uri)
        assert "code" in redirect_params(consent(browser, page))


def test_discovery_names_the_par_endpoint_and_requires_nothing_by_default(
    client: FlaskClient,
) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json

    assert metadata["pushed_authorization_request_endpoint"] == ISSUER + "/oauth/par"
    assert "require_pushed_authorization_requests" not in metadata


@pytest.mark.parametrize("audience", [ISSUER + "/oauth/par", ISSUER, ISSUER + "/oauth/token"])
def test_a_private_key_jwt_client_pushes_with_an_assertion(
    client: FlaskClient, rp: RelyingParty, audience: str
) -> None:
    """RFC 9126 §2: the issuer, the token endpoint and the PAR endpoint are all our audience;
    the body's client_id may be left out, the assertion names the client."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update(kid="rp-key-1", alg="RS256", use="sig")
    signed = make_relying_party(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]}
    )
    now = int(time.time())
    claims = {"iss": signed.client_id, "sub": signed.client_id, "aud": audience}
    assertion = jwt.encode(
        {**claims, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
        key,
        algorithm="RS256",
        headers={"kid": "rp-key-1"},
    )
    params = authorization_params(signed, Pkce())
    del params["client_id"]
    body = {
        **params,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }

    pushed = client.post("/oauth/par", data=body)
    replayed = client.post("/oauth/par", data=body)

    assert pushed.status_code == 201, pushed.json
    # RFC 7523 §3: each assertion once; answered as the token endpoint answers a replay.
    assert replayed.status_code in (400, 401)
    assert replayed.json["error"] == "invalid_client"
    sign_in(client)
    page = open_request_uri(client, signed, pushed.json["request_uri"])
    assert "code" in redirect_params(consent(client, page))


def test_the_sign_in_page_of_a_pushed_request_may_return_to_the_client(
    client: FlaskClient, rp: RelyingParty
) -> None:
    """The sign-in form's CSP form-action must allow the redirect its POST ends in."""
    request_uri = pushed_uri(client, rp, Pkce())
    to_sign_in = open_request_uri(client, rp, request_uri)

    page = client.get(to_sign_in.headers["Location"])

    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://rp.example.com" in policy

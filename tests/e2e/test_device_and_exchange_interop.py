"""The device flow (RFC 8628) and token exchange (RFC 8693) with openid-client, a client
library we did not write (tests/interop), against a live server.

Device flow: openid-client starts it and polls the way it does (waiting `interval`, slowing
down when told) while a requests session, the person's phone, types the code at /device,
signs in and allows. Token exchange: an app gets a user's token for the Orders API through
openid-client (pushed request with `resource`), and Orders' server exchanges it, through
openid-client's generic grant, for a token for the Billing API. Tokens are checked with PyJWT
against the published JWKS.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from tests.support.databases import backends
from tests.support.interop import run_client
from tests.support.live_browser import Browser, redirect_target
from tests.support.live_server import LiveServer, live_server_on

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://app.example.test/cb"
ORDERS = "https://orders.example.test"
BILLING = "https://billing.example.test"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"interop-{request.param}")
    # A one-second polling interval keeps openid-client's waits short.
    with live_server_on(request.param, workdir, AUTHSERVER_DEVICE_CODE_INTERVAL="1") as running:
        yield running


@pytest.fixture(scope="module")
def person(server: LiveServer) -> tuple[str, str]:
    """(e-mail, subject) of one account, made with the CLI."""
    address = f"interop-{secrets.token_hex(4)}@example.test"
    created = server.cli_json("user", "create", address, "--password-stdin", stdin=PASSWORD + "\n")
    return address, created["subject"]


def client_of(server: LiveServer, created: dict[str, Any]) -> dict[str, Any]:  # Any: JSON
    return {
        "issuer": server.base_url,
        "client_id": created["client_id"],
        "client_secret": created.get("client_secret"),
        "auth_method": created["token_endpoint_auth_method"],
    }


def verified(server: LiveServer, token: str, *, audience: str, typ: str) -> dict[str, Any]:
    """The token's claims, checked by PyJWT against the published JWKS."""
    jwks = jwt.PyJWKClient(server.url("/.well-known/jwks.json"))
    key = jwks.get_signing_key_from_jwt(token)
    assert jwt.get_unverified_header(token)["typ"] == typ
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=["RS256", "ES256", "EdDSA"],
        audience=audience,
        issuer=server.base_url,
    )
    return claims


def approve_on_phone(server: LiveServer, verification_uri_complete: str, email: str) -> str:
    """The person's part of the device flow: the code pre-filled, Continue, sign in, Allow.
    Returns the text of the last page."""
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as phone:
        code_page = phone.open(verification_uri_complete)
        assert code_page.status_code == 200, code_page.text
        sign_in_page = phone.submit(code_page)
        assert urlsplit(sign_in_page.url).path == "/login", sign_in_page.url
        consent_page = phone.submit(sign_in_page, email=email, password=PASSWORD)
        assert consent_page.status_code == 200, consent_page.text
        done = phone.submit(consent_page, press=("decision", "allow"))
        assert done.status_code == 200, done.text
        return done.text


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_openid_client_completes_the_device_flow(
    server: LiveServer, person: tuple[str, str], public: bool
) -> None:
    email, subject = person
    kind = ("--public",) if public else ()
    created = server.cli_json(
        "client", "create", "--name", "Living-room TV", "--grant-type", DEVICE_CODE,
        "--scope", "openid profile", *kind,
    )  # fmt: skip
    client = client_of(server, created)
    metadata = run_client("discover", client=client).value()["metadata"]
    assert metadata["device_authorization_endpoint"] == server.url("/oauth/device_authorization")

    device = run_client(
        "device_start", client=client, parameters={"scope": "openid profile"}
    ).value()["device"]
    assert device["verification_uri"] == server.url("/device")
    user_code = device["user_code"]
    assert len(user_code) == 9 and user_code[4] == "-", user_code

    with ThreadPoolExecutor(1) as polling:
        # openid-client polls (authorization_pending meanwhile) while the person answers.
        answer = polling.submit(run_client, "device_poll", client=client, device=device)
        last_page = approve_on_phone(server, device["verification_uri_complete"], email)
        granted = answer.result(timeout=60).value()

    assert "Living-room TV" in last_page
    tokens = granted["tokens"]
    access = verified(server, tokens["access_token"], audience=server.base_url, typ="at+jwt")
    assert access["sub"] == subject
    assert access["client_id"] == client["client_id"]
    id_token = verified(server, tokens["id_token"], audience=client["client_id"], typ="JWT")
    assert id_token["sub"] == subject
    assert granted["id_token_claims"]["sub"] == subject  # openid-client's own check passed

    # The device code is single use: polling again is refused, and openid-client says so.
    again = run_client("device_poll", client=client, device=device)
    assert not again.ok
    assert again.error["error"] == "invalid_grant"


def user_token_for_orders(server: LiveServer, email: str) -> str:
    """An app's access token for the Orders API, through openid-client (PAR, resource)."""
    created = server.cli_json(
        "client", "create", "--name", "Shop", "--redirect-uri", REDIRECT_URI,
        "--scope", "openid orders.read payments",
    )  # fmt: skip
    app = client_of(server, created)
    started = run_client(
        "par_start",
        client=app,
        parameters={
            "redirect_uri": REDIRECT_URI,
            "scope": "openid orders.read payments",
            "resource": ORDERS,
        },
    ).value()
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as browser:
        sign_in_page = browser.open(started["authorization_url"])
        consent_page = browser.submit(sign_in_page, email=email, password=PASSWORD)
        callback = redirect_target(browser.submit(consent_page, press=("decision", "allow")))
    granted = run_client(
        "code_grant",
        client=app,
        callback_url=callback,
        code_verifier=started["code_verifier"],
        state=started["state"],
        nonce=started["nonce"],
    ).value()
    token: str = granted["tokens"]["access_token"]
    return token


def test_openid_client_exchanges_a_users_token_for_another_api(
    server: LiveServer, person: tuple[str, str]
) -> None:
    email, subject = person
    # An exchange passes on only scopes the user's token carries (never widens it): Orders
    # takes payments through Billing, so both APIs list `payments`.
    server.cli_json(
        "api", "create", "--identifier", ORDERS, "--name", "Orders",
        "--scope", "orders.read", "--scope", "payments",
    )  # fmt: skip
    server.cli_json(
        "api", "create", "--identifier", BILLING, "--name", "Billing", "--scope", "payments"
    )
    registered = server.cli_json(
        "client", "create", "--name", "Orders service", "--grant-type", TOKEN_EXCHANGE,
        "--introspect-api", ORDERS, "--exchange-audience", BILLING,
    )  # fmt: skip
    orders_server = client_of(server, registered)
    subject_token = user_token_for_orders(server, email)
    original = verified(server, subject_token, audience=ORDERS, typ="at+jwt")
    assert (original["sub"], original["scope"]) == (subject, "orders.read payments")

    exchanged = run_client(
        "token_exchange",
        client=orders_server,
        parameters={
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": BILLING,
        },
    ).value()["tokens"]

    assert exchanged["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert "refresh_token" not in exchanged
    claims = verified(server, exchanged["access_token"], audience=BILLING, typ="at+jwt")
    assert claims["sub"] == subject
    assert claims["scope"] == "payments"
    assert claims["act"] == {"sub": orders_server["client_id"]}

    # A target outside the Orders service's policy: openid-client reports invalid_target.
    refused = run_client(
        "token_exchange",
        client=orders_server,
        parameters={
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": ORDERS,
        },
    )
    assert not refused.ok
    assert refused.error["error"] == "invalid_target"

"""Pushed authorization requests (RFC 9126) with openid-client, a relying party we did not
write (tests/interop), against a live server.

openid-client discovers the issuer, pushes the request with PKCE, state and nonce
(buildAuthorizationUrlWithPAR), and completes the code grant, checking the ID token itself. A
requests session is the person's browser: it signs in and consents on the server's pages.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.support.databases import backends
from tests.support.interop import run_client
from tests.support.live_browser import Browser, form_for, redirect_target
from tests.support.live_server import LiveServer, live_server_on

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.test/cb"


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"par-{request.param}")
    with live_server_on(request.param, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def person(server: LiveServer) -> tuple[str, str]:
    """(e-mail, subject) of one account, made with the CLI."""
    address = f"par-{secrets.token_hex(4)}@example.test"
    created = server.cli_json("user", "create", address, "--password-stdin", stdin=PASSWORD + "\n")
    return address, created["subject"]


def register(server: LiveServer, *options: str) -> dict[str, Any]:  # Any: the client's JSON
    created: dict[str, Any] = server.cli_json(
        "client", "create", "--name", "PAR app", "--redirect-uri", REDIRECT_URI, *options
    )
    return {
        "issuer": server.base_url,
        "client_id": created["client_id"],
        "client_secret": created.get("client_secret"),
        "auth_method": created["token_endpoint_auth_method"],
        "require_par": created["require_par"],
    }


def sign_in_and_allow(server: LiveServer, authorization_url: str, email: str) -> str:
    """The person's part: sign in when asked, press Allow; returns the callback URL."""
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as browser:
        sign_in_page = browser.open(authorization_url)
        assert urlsplit(sign_in_page.url).path == "/login", sign_in_page.url
        consent_page = browser.submit(sign_in_page, email=email, password=PASSWORD)
        assert consent_page.status_code == 200, consent_page.text
        decision = form_for(consent_page, press=("decision", "allow"))
        assert set(decision.fields) == {"csrf_token", "authorization_request"}
        return redirect_target(browser.submit(consent_page, press=("decision", "allow")))


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post", "none"])
def test_openid_client_pushes_signs_in_and_gets_verified_tokens(
    server: LiveServer, person: tuple[str, str], auth_method: str
) -> None:
    email, subject = person
    options = (
        ("--public",) if auth_method == "none" else ("--token-endpoint-auth-method", auth_method)
    )
    client = register(server, *options, "--require-par")
    metadata = run_client("discover", client=client).value()["metadata"]
    assert metadata["pushed_authorization_request_endpoint"] == server.url("/oauth/par")

    started = run_client(
        "par_start",
        client=client,
        parameters={"redirect_uri": REDIRECT_URI, "scope": "openid profile email"},
    ).value()
    url = urlsplit(started["authorization_url"])
    query = parse_qs(url.query)
    # Only the client_id and the reference travel through the browser (RFC 9126 §4).
    assert set(query) == {"client_id", "request_uri"}, query
    assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")

    callback = sign_in_and_allow(server, started["authorization_url"], email)
    assert callback.startswith(REDIRECT_URI + "?"), callback

    granted = run_client(
        "code_grant",
        client=client,
        callback_url=callback,
        code_verifier=started["code_verifier"],
        state=started["state"],
        nonce=started["nonce"],
    ).value()
    claims = granted["id_token_claims"]
    assert claims["iss"] == server.base_url
    assert claims["aud"] == client["client_id"]
    assert claims["nonce"] == started["nonce"]
    assert claims["sub"] == subject
    assert granted["tokens"]["token_type"].lower() == "bearer"

    # The same callback again: the code is spent, openid-client reports the server's refusal.
    replayed = run_client(
        "code_grant",
        client=client,
        callback_url=callback,
        code_verifier=started["code_verifier"],
        state=started["state"],
        nonce=started["nonce"],
    )
    assert not replayed.ok
    assert replayed.error["error"] == "invalid_grant"


def test_a_require_par_client_is_refused_without_a_pushed_request(server: LiveServer) -> None:
    client = register(server, "--require-par")
    assert client["require_par"] is True
    plain = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "s-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }

    refused = requests.get(
        server.url("/oauth/authorize?" + urlencode(plain)),
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )

    callback = redirect_target(refused)
    assert callback.startswith(REDIRECT_URI + "?")
    answer = {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "s-1"


def test_openid_client_reports_a_refused_push(server: LiveServer) -> None:
    client = register(server)

    refused = run_client(
        "par_start",
        client=client,
        parameters={"redirect_uri": "https://elsewhere.example.test/cb", "scope": "openid"},
    )

    assert not refused.ok
    assert refused.error["error"] == "invalid_request"
    assert refused.error["status"] == 400

"""Back-channel logout against a live `authserver serve`, whose workers deliver the outbox.

The relying party is Authlib's client for the code flow and a real HTTP endpoint on loopback for
the logout token; the person signs in and out through the pages with a requests-based browser.
The token must arrive within 10 s of the sign-out, checked with PyJWT against the served JWKS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
import requests

from tests.e2e.test_oidc_flow import (
    Person,
    Provider,
    code_flow,
    register_client,
    relying_party,
    unique,
    verify_jwt,
)
from tests.support.databases import backends
from tests.support.live_browser import Browser, only_form
from tests.support.live_server import LiveServer, live_server_on
from tests.support.logout_receiver import logout_receiver, verify_logout_token

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.test/cb"


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"bcl-{request.param}")
    with live_server_on(request.param, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def provider(server: LiveServer) -> Provider:
    metadata = requests.get(
        server.url("/.well-known/openid-configuration"), timeout=TIMEOUT_SECONDS
    ).json()
    keys = requests.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS).json()
    return Provider(metadata, jwt.PyJWKSet.from_dict(keys))


@pytest.fixture(scope="module")
def person(server: LiveServer) -> Person:
    email = unique("user") + "@example.test"
    created = server.cli_json(
        "user", "create", email, "--password-stdin", "--name", "Ada", stdin=PASSWORD + "\n"
    )
    return Person(email=email, name="Ada", subject=created["subject"])


def test_signing_out_reaches_the_relying_party_within_ten_seconds(
    server: LiveServer, provider: Provider, person: Person
) -> None:
    assert provider["backchannel_logout_supported"] is True
    assert provider["backchannel_logout_session_supported"] is True
    with logout_receiver() as receiver, Browser(server.base_url, timeout=TIMEOUT_SECONDS) as b:
        client = register_client(
            server,
            "--redirect-uri", REDIRECT_URI,
            "--backchannel-logout-uri", receiver.uri,
            "--backchannel-logout-session-required",
        )  # fmt: skip
        shown = server.cli_json("client", "show", client.client_id)
        assert shown["backchannel_logout_uri"] == receiver.uri
        assert shown["backchannel_logout_session_required"] is True
        rp = relying_party(provider, client, redirect_uri=REDIRECT_URI, scope="openid")
        flow = code_flow(b, rp, provider, person)
        id_claims = verify_jwt(
            provider, flow.token["id_token"], audience=client.client_id, typ="JWT"
        )

        home = b.open(server.url("/"))
        signed_out_at = time.monotonic()
        assert b.submit(home).status_code == 200
        assert only_form(b.open(server.url("/login"))).action == "/login"
        [received] = receiver.wait_for(1, within=TIMEOUT_SECONDS)
        took = time.monotonic() - signed_out_at

        assert received.content_type == "application/x-www-form-urlencoded"
        claims = verify_logout_token(
            received.form["logout_token"][0],
            provider.keys,
            issuer=provider.issuer,
            audience=client.client_id,
        )
        assert (claims["sid"], claims["sub"]) == (id_claims["sid"], person.subject)
        assert took < TIMEOUT_SECONDS
        time.sleep(1.5)  # every worker has had a pass since: none sent it again
        assert len(receiver.snapshot()) == 1

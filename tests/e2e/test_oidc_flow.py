"""The OIDC core against a live server, with a relying party we did not write.

One `authserver serve` per module (and per database backend). Users and clients come from the
CLI, as an operator makes them. Authlib's OAuth2Session is the relying party, a requests.Session
is the person's browser, and every JWT is checked with PyJWT against the JWKS served over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from tests.support.databases import backends, fresh_postgres_database
from tests.support.live_browser import Browser, form_for, redirect_target
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.test/cb"
POST_LOGOUT_REDIRECT_URI = "https://rp.example.test/signed-out"
SCOPE = "openid profile email offline_access"
API_SCOPE = "api.read"
API = "https://api.example.test/"


# --- the server, and what a relying party learns about it over HTTP ------------------------------


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"oidc-{request.param}")
    with ExitStack() as stack:
        settings: dict[str, str] = {}
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    # Every failure a client saw was asserted on; anything logged as an error was not.
    assert running.error_lines() == [], running.log()


@dataclass(frozen=True)
class Provider:
    """The discovery document and the published keys, both fetched from the live server."""

    metadata: dict[str, Any]
    keys: jwt.PyJWKSet

    def __getitem__(self, name: str) -> Any:  # Any: a metadata value
        return self.metadata[name]

    @property
    def issuer(self) -> str:
        return str(self.metadata["issuer"])


@pytest.fixture(scope="module")
def provider(server: LiveServer) -> Provider:
    discovery = requests.get(
        server.url("/.well-known/openid-configuration"), timeout=TIMEOUT_SECONDS
    )
    assert discovery.status_code == 200, discovery.text
    metadata = discovery.json()
    jwks = requests.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)
    assert jwks.status_code == 200, jwks.text
    return Provider(metadata, jwt.PyJWKSet.from_dict(jwks.json()))


def verify_jwt(provider: Provider, token: str, *, audience: str, typ: str) -> dict[str, Any]:
    """PyJWT, never our code: the served key named by `kid`, with that key's algorithm."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == typ
    key = provider.keys[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=[key.algorithm_name],
        audience=audience,
        issuer=provider.issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat"]},
    )
    return claims


def left_half_sha256(value: str) -> str:
    """OIDC Core §3.1.3.6 at_hash for RS256: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


# --- users and clients, made with the CLI ---------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    subject: str
    password: str = PASSWORD


@dataclass(frozen=True)
class Registration:
    client_id: str
    client_secret: str | None
    token_endpoint_auth_method: str


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


@pytest.fixture(scope="module")
def person(server: LiveServer) -> Person:
    """One account for the module: each test signs in on a browser of its own, to a client of
    its own, so consents, sessions and token families never meet."""
    email, name = unique("user") + "@example.test", "Grace Hopper"
    created = server.cli_json(
        "user", "create", email, "--password-stdin", "--name", name, stdin=PASSWORD + "\n"
    )
    return Person(email=email, name=name, subject=created["subject"])


def register_client(server: LiveServer, *options: str) -> Registration:
    created = server.cli_json("client", "create", "--name", unique("e2e app"), *options)
    return Registration(
        client_id=created["client_id"],
        client_secret=created.get("client_secret"),
        token_endpoint_auth_method=created["token_endpoint_auth_method"],
    )


@pytest.fixture(scope="module")
def resource_server(server: LiveServer) -> Registration:
    """The API's server: it gets its own tokens, and introspects the API's (RFC 7662 §4)."""
    server.cli_json("api", "create", "--identifier", API, "--name", "E2E API", "--scope", API_SCOPE)
    return register_client(
        server, "--grant-type", "client_credentials", "--scope", API_SCOPE, "--introspect-api", API
    )


def relying_party(
    provider: Provider,
    client: Registration,
    *,
    redirect_uri: str = REDIRECT_URI,
    scope: str = SCOPE,
) -> OAuth2Session:
    return OAuth2Session(
        client.client_id,
        client.client_secret,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        revocation_endpoint_auth_method=client.token_endpoint_auth_method,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint=provider["token_endpoint"],
        default_timeout=TIMEOUT_SECONDS,
    )


# --- the browser part of the flow ----------------------------------------------------------------


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as each:
        yield each


def sign_in_and_allow(browser: Browser, authorization_url: str, person: Person) -> str:
    """Sign in when sent to the sign-in page, press Allow; returns the callback URL."""
    sign_in_page = browser.open(authorization_url)
    assert urlsplit(sign_in_page.url).path == "/login", sign_in_page.url
    consent_page = browser.submit(sign_in_page, email=person.email, password=person.password)
    assert consent_page.status_code == 200, consent_page.text
    decision = form_for(consent_page, press=("decision", "allow"))
    assert set(decision.fields) == {"csrf_token", "authorization_request"}
    return redirect_target(browser.submit(consent_page, press=("decision", "allow")))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@dataclass(frozen=True)
class FlowResult:
    token: dict[str, Any]  # Any: the token response
    nonce: str
    started_at: int


def code_flow(
    browser: Browser,
    rp: OAuth2Session,
    provider: Provider,
    person: Person,
    **extra: str,
) -> FlowResult:
    """Authorization code + PKCE (S256) with state and nonce, then the token request."""
    started_at = int(time.time())
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    # RFC 6749 state is any printable ASCII: it must survive URLs and the consent form's HTML.
    state = secrets.token_urlsafe(16) + " &=\"<'>%+/"
    url, _ = rp.create_authorization_url(
        provider["authorization_endpoint"],
        state=state,
        code_verifier=verifier,
        nonce=nonce,
        **extra,
    )
    callback = sign_in_and_allow(browser, url, person)

    assert callback.startswith(rp.redirect_uri + "?"), callback
    params = query_of(callback)
    assert params["state"] == state
    assert params["iss"] == provider.issuer  # RFC 9207 §2
    token = rp.fetch_token(authorization_response=callback, state=state, code_verifier=verifier)
    return FlowResult(dict(token), nonce, started_at)


def authorize_again(browser: Browser, rp: OAuth2Session, provider: Provider, **params: str) -> str:
    """A request from a browser already signed in and consented: no pages, straight back to
    the client. Returns the callback URL."""
    url, _ = rp.create_authorization_url(provider["authorization_endpoint"], **params)
    callback = redirect_target(browser.open(url))
    assert callback.startswith(rp.redirect_uri + "?"), callback
    return callback


# --- the tests -----------------------------------------------------------------------------------


def test_discovery_describes_this_server(server: LiveServer, provider: Provider) -> None:
    base = server.base_url
    assert provider.issuer == base
    assert {
        name: provider[name]
        for name in (
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "introspection_endpoint",
            "revocation_endpoint",
            "end_session_endpoint",
            "jwks_uri",
        )
    } == {
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "userinfo_endpoint": base + "/oauth/userinfo",
        "introspection_endpoint": base + "/oauth/introspect",
        "revocation_endpoint": base + "/oauth/revoke",
        "end_session_endpoint": base + "/oauth/logout",
        "jwks_uri": base + "/.well-known/jwks.json",
    }
    assert provider["code_challenge_methods_supported"] == ["S256"]
    assert provider["authorization_response_iss_parameter_supported"] is True
    assert "RS256" in {key.algorithm_name for key in provider.keys.keys}


def test_code_flow_with_pkce_issues_tokens_a_relying_party_can_verify(
    server: LiveServer, provider: Provider, browser: Browser, person: Person
) -> None:
    client = register_client(
        server,
        "--redirect-uri", REDIRECT_URI,
        "--scope", SCOPE,
        "--token-endpoint-auth-method", "client_secret_post",
    )  # fmt: skip
    with relying_party(provider, client) as rp:
        flow = code_flow(browser, rp, provider, person)
        token = flow.token

        assert token["token_type"].lower() == "bearer"
        assert token["scope"] == SCOPE
        access = verify_jwt(provider, token["access_token"], audience=provider.issuer, typ="at+jwt")
        assert access["sub"] == person.subject
        assert access["client_id"] == client.client_id
        assert access["scope"] == SCOPE
        assert access["exp"] - access["iat"] == token["expires_in"]
        assert flow.started_at - 1 <= access["iat"] <= time.time() + 1
        assert isinstance(access["jti"], str) and len(access["jti"]) >= 16

        id_token = verify_jwt(provider, token["id_token"], audience=client.client_id, typ="JWT")
        assert id_token["sub"] == person.subject
        assert id_token["nonce"] == flow.nonce
        assert id_token["at_hash"] == left_half_sha256(token["access_token"])
        assert flow.started_at - 1 <= id_token["auth_time"] <= time.time() + 1
        assert isinstance(id_token["sid"], str) and id_token["sid"]
        assert id_token["amr"] == ["pwd"]

        userinfo = rp.get(provider["userinfo_endpoint"])
        assert userinfo.status_code == 200, userinfo.text
        assert userinfo.json() == {
            "sub": person.subject,
            "email": person.email,
            "email_verified": False,
            "name": person.name,
        }


def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    server: LiveServer, provider: Provider, browser: Browser, person: Person
) -> None:
    client = register_client(server, "--redirect-uri", REDIRECT_URI, "--scope", SCOPE)
    with relying_party(provider, client) as rp:
        first = code_flow(browser, rp, provider, person).token
        first_id_token = verify_jwt(
            provider, first["id_token"], audience=client.client_id, typ="JWT"
        )

        second = dict(rp.refresh_token(provider["token_endpoint"], first["refresh_token"]))

        assert second["refresh_token"] != first["refresh_token"]
        access = verify_jwt(
            provider, second["access_token"], audience=provider.issuer, typ="at+jwt"
        )
        assert access["sub"] == person.subject
        id_token = verify_jwt(provider, second["id_token"], audience=client.client_id, typ="JWT")
        # OIDC Core §12.2: the same user and the time of the original authentication.
        assert id_token["sub"] == person.subject
        assert id_token["auth_time"] == first_id_token["auth_time"]
        assert id_token["at_hash"] == left_half_sha256(second["access_token"])
        assert rp.get(provider["userinfo_endpoint"]).status_code == 200

        # RFC 9700 §4.14.2: once its successor has been used, the rotated-out token again
        # means theft (no lost answer to retry); the family is revoked.
        third = dict(rp.refresh_token(provider["token_endpoint"], second["refresh_token"]))
        with pytest.raises(OAuthError) as reused:
            rp.refresh_token(provider["token_endpoint"], first["refresh_token"])
        assert reused.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as newest:
            rp.refresh_token(provider["token_endpoint"], third["refresh_token"])
        assert newest.value.error == "invalid_grant"
        with requests.get(
            provider["userinfo_endpoint"],
            headers={"Authorization": "Bearer " + second["access_token"]},
            timeout=TIMEOUT_SECONDS,
        ) as userinfo:
            assert userinfo.status_code == 401
            assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]


def introspect(provider: Provider, caller: Registration, token: str, hint: str) -> dict[str, Any]:
    with OAuth2Session(
        caller.client_id,
        caller.client_secret,
        token_endpoint_auth_method=caller.token_endpoint_auth_method,
        default_timeout=TIMEOUT_SECONDS,
    ) as session:
        response = session.introspect_token(
            provider["introspection_endpoint"], token=token, token_type_hint=hint
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_revoking_the_refresh_token_ends_the_grant_for_resource_servers(
    server: LiveServer,
    provider: Provider,
    browser: Browser,
    person: Person,
    resource_server: Registration,
) -> None:
    scope = f"{SCOPE} {API_SCOPE}"
    client = register_client(server, "--redirect-uri", REDIRECT_URI, "--scope", scope)
    with relying_party(provider, client, scope=scope) as rp:
        # RFC 8707: the app asks for the API; the token is for it alone.
        token = code_flow(browser, rp, provider, person, resource=API).token
        access_token, refresh_token = token["access_token"], token["refresh_token"]

        claims = verify_jwt(provider, access_token, audience=API, typ="at+jwt")
        assert claims["scope"] == API_SCOPE
        with pytest.raises(jwt.InvalidAudienceError):
            verify_jwt(provider, access_token, audience=provider.issuer, typ="at+jwt")
        seen = introspect(provider, resource_server, access_token, "access_token")
        assert seen["active"] is True
        assert (seen["sub"], seen["client_id"], seen["scope"], seen["aud"]) == (
            person.subject,
            client.client_id,
            API_SCOPE,
            API,
        )
        # RFC 7662 §4: a client that is neither the token's nor its API's server learns nothing.
        bystander = register_client(server, "--grant-type", "client_credentials", "--scope", "x")
        assert introspect(provider, bystander, access_token, "access_token") == {"active": False}
        # A refresh token is its client's business only (the resource server never sees one).
        assert introspect(provider, client, refresh_token, "refresh_token")["active"] is True
        assert introspect(provider, resource_server, refresh_token, "refresh_token") == {
            "active": False
        }

        revoked = rp.revoke_token(
            provider["revocation_endpoint"], token=refresh_token, token_type_hint="refresh_token"
        )
        assert revoked.status_code == 200, revoked.text

        # RFC 7009 §2.1: revoking the refresh token ends the access tokens of its grant too.
        assert introspect(provider, resource_server, access_token, "access_token") == {
            "active": False
        }
        assert introspect(provider, client, refresh_token, "refresh_token") == {"active": False}
        with pytest.raises(OAuthError) as refreshed:
            rp.refresh_token(provider["token_endpoint"], refresh_token)
        assert refreshed.value.error == "invalid_grant"


def test_client_credentials_token_names_the_client(
    provider: Provider, resource_server: Registration
) -> None:
    with OAuth2Session(
        resource_server.client_id,
        resource_server.client_secret,
        scope=API_SCOPE,
        default_timeout=TIMEOUT_SECONDS,
    ) as session:
        token = session.fetch_token(provider["token_endpoint"], grant_type="client_credentials")

    assert token["scope"] == API_SCOPE
    assert "refresh_token" not in token and "id_token" not in token
    claims = verify_jwt(provider, token["access_token"], audience=provider.issuer, typ="at+jwt")
    assert claims["sub"] == resource_server.client_id  # RFC 9068 §2.2
    assert claims["client_id"] == resource_server.client_id
    assert claims["scope"] == API_SCOPE
    assert "auth_time" not in claims


def test_rp_initiated_logout_returns_to_the_client_and_ends_the_session(
    server: LiveServer, provider: Provider, browser: Browser, person: Person
) -> None:
    client = register_client(
        server,
        "--redirect-uri", REDIRECT_URI,
        "--scope", SCOPE,
        "--post-logout-redirect-uri", POST_LOGOUT_REDIRECT_URI,
    )  # fmt: skip
    with relying_party(provider, client) as rp:
        id_token = code_flow(browser, rp, provider, person).token["id_token"]

        def silent_authorization() -> dict[str, str]:
            return query_of(
                authorize_again(
                    browser,
                    rp,
                    provider,
                    state="silent",
                    code_verifier=secrets.token_urlsafe(48),
                    nonce=secrets.token_urlsafe(16),
                    prompt="none",
                )
            )

        # Signed in and consented: a silent request gets a code at once.
        assert set(silent_authorization()) == {"code", "state", "iss"}

        logout = browser.open(
            provider["end_session_endpoint"]
            + "?"
            + urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI,
                    "state": "bye-123",
                }
            )
        )
        assert redirect_target(logout) == POST_LOGOUT_REDIRECT_URI + "?state=bye-123"

        after = silent_authorization()
        assert after["error"] == "login_required"
        assert after["state"] == "silent"
        assert after["iss"] == provider.issuer


def test_public_client_on_another_loopback_port_uses_pkce_without_a_secret(
    server: LiveServer, provider: Provider, browser: Browser, person: Person
) -> None:
    client = register_client(
        server,
        "--public",
        "--redirect-uri", "http://127.0.0.1:8765/cb",
        "--scope", "openid email",
    )  # fmt: skip
    assert client.client_secret is None
    assert client.token_endpoint_auth_method == "none"
    # RFC 8252 §7.3: a native app's loopback redirect may use whatever port it got.
    with relying_party(
        provider, client, redirect_uri="http://127.0.0.1:9876/cb", scope="openid email"
    ) as rp:
        token = code_flow(browser, rp, provider, person).token

        assert "refresh_token" not in token  # OIDC Core §11: no offline_access, no refresh
        id_token = verify_jwt(provider, token["id_token"], audience=client.client_id, typ="JWT")
        assert id_token["sub"] == person.subject
        userinfo = rp.get(provider["userinfo_endpoint"])
        assert userinfo.json() == {
            "sub": person.subject,
            "email": person.email,
            "email_verified": False,
        }

        # Only PKCE protects a public client's code: without a challenge there is no code,
        # and a code is worthless without its verifier (RFC 7636 §4.4.1, §4.6).
        refused = query_of(authorize_again(browser, rp, provider, state="no-pkce"))
        assert (refused["error"], refused["state"]) == ("invalid_request", "no-pkce")
        code = query_of(
            authorize_again(
                browser, rp, provider, state="pkce", code_verifier=secrets.token_urlsafe(48)
            )
        )["code"]
        with pytest.raises(OAuthError) as wrong_verifier:
            rp.fetch_token(
                grant_type="authorization_code",
                code=code,
                code_verifier=secrets.token_urlsafe(48),
            )
        assert wrong_verifier.value.error == "invalid_grant"


def test_concurrent_refreshes_with_one_token_hand_out_one_successor(
    server: LiveServer, provider: Provider, browser: Browser, person: Person
) -> None:
    """DESIGN.md: of several uses of one refresh token at once, one wins, one more is forgiven
    as a client's retry after a lost answer (it gets the same successor), and the rest are
    reuse, which revokes the family.

    Only a live server with several workers can race requests for real.
    """
    client = register_client(server, "--redirect-uri", REDIRECT_URI, "--scope", SCOPE)
    with relying_party(provider, client) as rp:
        refresh_token = code_flow(browser, rp, provider, person).token["refresh_token"]
    assert client.client_secret is not None
    credentials = (client.client_id, client.client_secret)
    racers = 4
    start = threading.Barrier(racers, timeout=TIMEOUT_SECONDS)

    def refresh(token: str) -> requests.Response:
        return requests.post(
            provider["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=credentials,
            timeout=TIMEOUT_SECONDS,
        )

    def race(_: int) -> requests.Response:
        start.wait()
        return refresh(refresh_token)

    with ThreadPoolExecutor(racers) as pool:
        responses = list(pool.map(race, range(racers)))

    winners = [response for response in responses if response.status_code == 200]
    assert len(winners) == 2, [response.text for response in responses]
    assert len({winner.json()["refresh_token"] for winner in winners}) == 1
    losers = [(r.status_code, r.json()["error"]) for r in responses if r not in winners]
    assert losers == [(400, "invalid_grant")] * (racers - 2)
    # The losers count as reuse: the family is revoked, the winners' new token with it.
    after = refresh(winners[0].json()["refresh_token"])
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")

"""TOTP MFA against a live server: set-up, sign-in, replay, recovery codes, skipping, tokens.

A requests.Session is the browser, pyotp is the authenticator app, Authlib's OAuth2Session is a
relying party that demands MFA, and the ID token is checked with PyJWT against the served JWKS.
The clock is real: instead of waiting for a new 30-second step, the app's code for the next step
is used (the server accepts one step either side).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pyotp
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.support.databases import backends, fresh_postgres_database
from tests.support.live_browser import Browser, redirect_target
from tests.support.live_server import LiveServer, live_server
from tests.support.mfa import key_on, otpauth_link_on

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.test/cb"
ACR_MFA = "urn:authserver:acr:mfa"
PENDING_COOKIE = "authserver_mfa_pending"
SESSION_COOKIE = "authserver_session"
_RECOVERY_CODE = re.compile(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>")


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"mfa-{request.param}")
    with ExitStack() as stack:
        settings: dict[str, str] = {}
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    assert running.error_lines() == [], running.log()


@dataclass
class Account:
    email: str
    totp: pyotp.TOTP
    recovery_codes: list[str]
    setup_code: str  # the code that completed the set-up, so already used

    def next_code(self) -> str:
        """The code the app shows in the next step: never used yet, and within the window."""
        return self.totp.at(time.time() + 30)


def new_email() -> str:
    return f"user-{secrets.token_hex(5)}@example.test"


def sign_in(browser: Browser, email: str, next_path: str = "/") -> requests.Response:
    page = browser.open(browser_url(browser, "/login?" + urlencode({"next": next_path})))
    return browser.submit(page, email=email, password=PASSWORD)


def browser_url(browser: Browser, path: str) -> str:
    scheme, netloc = browser.origin
    return f"{scheme}://{netloc}{path}"


def sign_out(browser: Browser) -> None:
    home = browser.open(browser_url(browser, "/"))
    assert urlsplit(home.url).path == "/", home.url
    browser.submit(home)
    assert SESSION_COOKIE not in browser.http.cookies


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as each:
        yield each


@pytest.fixture
def account(server: LiveServer, browser: Browser) -> Account:
    """An account with an authenticator set up through the pages; the browser is signed out."""
    email = new_email()
    server.cli_json("user", "create", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert urlsplit(sign_in(browser, email).url).path == "/"
    setup = browser.open(browser_url(browser, "/account/mfa"))
    secret = key_on(setup.text)
    assert secret, setup.text
    totp = pyotp.TOTP(secret)
    setup_code = totp.now()
    done = browser.submit(setup, code=setup_code)
    assert done.status_code == 200, done.text
    codes = _RECOVERY_CODE.findall(done.text)
    assert len(codes) == 10
    sign_out(browser)
    return Account(email, totp, codes, setup_code)


def test_the_second_factor_is_needed_once_set_up_and_codes_work_once(
    server: LiveServer, browser: Browser, account: Account
) -> None:
    challenge = sign_in(browser, account.email)
    assert urlsplit(challenge.url).path == "/mfa"
    assert SESSION_COOKIE not in browser.http.cookies

    # The code that completed the set-up was used: the same code is refused (RFC 6238 §5.2).
    # It is the set-up's own code, not the app's current one: on a slow machine a new 30-second
    # step may have begun since, and its code was never used.
    replay = browser.submit(challenge, code=account.setup_code)
    assert replay.status_code == 401
    assert "That code is not valid" in replay.text

    home = browser.submit(replay, code=account.next_code())
    assert urlsplit(home.url).path == "/"
    assert f"Signed in as {account.email}" in home.text
    sign_out(browser)

    # A recovery code signs in once.
    challenge = sign_in(browser, account.email)
    used = browser.submit(challenge, code=account.recovery_codes[0])
    assert "You have <strong>9</strong> recovery codes left." in used.text
    sign_out(browser)
    challenge = sign_in(browser, account.email)
    again = browser.submit(challenge, code=account.recovery_codes[0])
    assert again.status_code == 401
    assert SESSION_COOKIE not in browser.http.cookies


@pytest.fixture(scope="module")
def authorize_path(server: LiveServer) -> str:
    created = server.cli_json(
        "client", "create", "--name", "Any app", "--redirect-uri", REDIRECT_URI, "--skip-consent"
    )
    params = {
        "response_type": "code",
        "client_id": created["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return "/oauth/authorize?" + urlencode(params)


@pytest.mark.parametrize("target", ["/", "/account", "/account/mfa", "authorize"])
def test_a_pending_sign_in_opens_nothing(
    browser: Browser, account: Account, authorize_path: str, target: str
) -> None:
    sign_in(browser, account.email)
    assert PENDING_COOKIE in browser.http.cookies

    path = authorize_path if target == "authorize" else target
    response = browser.open(browser_url(browser, path))

    # The sign-in page (or, for /account, no such page where the account page is not built).
    assert urlsplit(response.url).path == "/login" or (
        target == "/account" and response.status_code == 404
    )
    assert "Signed in as" not in response.text
    assert SESSION_COOKIE not in browser.http.cookies


def test_a_pending_sign_in_cannot_be_replayed_after_success(
    server: LiveServer, browser: Browser, account: Account
) -> None:
    challenge = sign_in(browser, account.email)
    pending = browser.http.cookies[PENDING_COOKIE]
    browser.submit(challenge, code=account.next_code())

    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as attacker:
        attacker.http.cookies.set(PENDING_COOKIE, pending)
        page = attacker.open(server.url("/mfa"))

        assert urlsplit(page.url).path == "/login"
        assert SESSION_COOKIE not in attacker.http.cookies


def test_a_client_demanding_mfa_gets_otp_and_the_mfa_acr(
    server: LiveServer, browser: Browser, account: Account
) -> None:
    created = server.cli_json(
        "client", "create", "--name", "MFA app", "--redirect-uri", REDIRECT_URI,
        "--skip-consent", "--require-mfa",
    )  # fmt: skip
    assert created["require_mfa"] is True
    metadata = requests.get(
        server.url("/.well-known/openid-configuration"), timeout=TIMEOUT_SECONDS
    ).json()
    rp = OAuth2Session(
        created["client_id"],
        created["client_secret"],
        scope="openid email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint=metadata["token_endpoint"],
        default_timeout=TIMEOUT_SECONDS,
    )
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    sign_in_page = browser.open(url)
    assert urlsplit(sign_in_page.url).path == "/login"
    challenge = browser.submit(sign_in_page, email=account.email, password=PASSWORD)
    assert urlsplit(challenge.url).path == "/mfa"
    callback = redirect_target(browser.submit(challenge, code=account.next_code()))
    assert callback.startswith(REDIRECT_URI + "?")
    assert "code" in parse_qs(urlsplit(callback).query)
    token = rp.fetch_token(authorization_response=callback, state=state, code_verifier=verifier)

    claims = verify_id_token(metadata, token["id_token"], audience=created["client_id"])
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == ACR_MFA
    assert claims["nonce"] == nonce


def verify_id_token(metadata: dict[str, Any], token: str, *, audience: str) -> dict[str, Any]:
    served = requests.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)
    keys = jwt.PyJWKSet.from_dict(served.json())
    header = jwt.get_unverified_header(token)
    key = keys[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=[key.algorithm_name],
        audience=audience,
        issuer=metadata["issuer"],
    )
    return claims


def test_the_set_up_page_shows_the_key_three_ways(server: LiveServer, browser: Browser) -> None:
    email = new_email()
    server.cli_json("user", "create", email, "--password-stdin", stdin=PASSWORD + "\n")
    sign_in(browser, email)

    page = browser.open(server.url("/account/mfa"))

    assert page.headers["Cache-Control"] == "no-store"
    assert '<svg class="qr-code"' in page.text
    secret = key_on(page.text)
    assert secret
    issuer = urlsplit(server.base_url).hostname
    uri = otpauth_link_on(page.text)
    app = pyotp.TOTP(secret)
    assert uri == app.provisioning_uri(name=email, issuer_name=issuer)

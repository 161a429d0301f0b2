"""A person sets up an authenticator app, then signs in to an app with it, in headless Chromium.

pyotp is the phone: it reads the key the set-up page shows as text. The relying party is a
loopback HTTP server the browser really arrives at; the test then redeems the code as the app
would (requests, PKCE) and checks the ID token with PyJWT against the published JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, new_account, sign_out
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.loopback_site import LoopbackSite, html_page, loopback_site

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
APP_NAME = "Browser Test App"
SCOPES = ["openid", "profile", "email"]
RECOVERY_CODE = re.compile(r"[A-Z0-9]{5}-[A-Z0-9]{5}")
RECOVERY_CODE_COUNT = 10
CALLBACK_PATH = "/cb"
CALLBACK_HEADING = "Back at the app"


@pytest.fixture(scope="module")
def relying_party() -> Iterator[LoopbackSite]:
    """The app's redirect URI, where the browser must really arrive."""
    with loopback_site({CALLBACK_PATH: html_page(CALLBACK_HEADING)}) as site:
        yield site


def register_app(server: LiveServer, redirect_uri: str) -> dict[str, Any]:
    created: dict[str, Any] = server.cli_json(
        "client", "create", "--name", APP_NAME,
        "--redirect-uri", redirect_uri, "--scope", " ".join(SCOPES),
    )  # fmt: skip
    return created


def set_up_authenticator(tab: WatchedPage) -> pyotp.TOTP:
    """From the account page: scan (read) the key, confirm a code, see the recovery codes."""
    page = tab.page
    page.get_by_role("link", name="Set up authenticator app").click()
    tab.arrive("/account/mfa", "Set up authenticator app")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    phone = pyotp.TOTP(page.locator("code.secret").inner_text().replace(" ", ""))
    page.get_by_label("Authentication code").fill(phone.now())
    page.get_by_role("button", name="Verify").click()

    tab.arrive("/account/mfa", "Authenticator app set up")
    codes = page.locator("ol.recovery-codes li").all_inner_texts()
    assert len(codes) == RECOVERY_CODE_COUNT, codes
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    page.get_by_label("I have saved my recovery codes").check()
    page.get_by_role("button", name="Continue").click()
    tab.arrive("/account/mfa", "Authenticator app")
    page.get_by_role("link", name="Back to your account").click()
    tab.arrive("/account", "Your account")
    expect(page.get_by_role("link", name="Manage authenticator app")).to_be_visible()
    expect(page.get_by_text("Recovery codes left: 10")).to_be_visible()
    return phone


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def redeem(
    server: LiveServer, app: dict[str, Any], code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    """What the app's back end does with the code: the token request, authenticated (RFC 6749
    §4.1.3), with the PKCE verifier (RFC 7636 §4.5)."""
    answer = requests.post(
        server.url("/oauth/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(app["client_id"], app["client_secret"]),
        timeout=TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def verified_id_token(server: LiveServer, id_token: str, *, audience: str) -> dict[str, Any]:
    """PyJWT against the keys the discovery document points at, never our own code."""
    metadata = requests.get(
        server.url("/.well-known/openid-configuration"), timeout=TIMEOUT_SECONDS
    ).json()
    published = requests.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)
    keys = jwt.PyJWKSet.from_dict(published.json())
    key = keys[jwt.get_unverified_header(id_token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        id_token,
        key=key,
        algorithms=[key.algorithm_name],
        audience=audience,
        issuer=metadata["issuer"],
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
    )
    return claims


def test_authenticator_set_up_then_sign_in_with_it_and_allow_an_app(
    server: LiveServer, tab: WatchedPage, relying_party: LoopbackSite
) -> None:
    account = new_account(server)
    redirect_uri = relying_party.url(CALLBACK_PATH)
    app = register_app(server, redirect_uri)
    page = tab.page

    # Signed in with the password, the person sets up an app from the account page.
    page.goto(server.url("/account"))
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/account", "Your account")
    this_device = page.get_by_role("listitem").filter(has_text="This device")
    expect(this_device).to_contain_text("Headless Chrome on Linux")
    phone = set_up_authenticator(tab)
    sign_out(tab, server)

    # Later the app sends them here; signing in now takes the password and a code.
    verifier, state, nonce = (secrets.token_urlsafe(32) for _ in range(3))
    page.goto(
        server.url("/oauth/authorize?")
        + urlencode(
            {
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": redirect_uri,
                "scope": " ".join(SCOPES),
                "state": state,
                "nonce": nonce,
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
            }
        )
    )
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/mfa", "Two-step verification")
    # The code of the next 30-second step: the one used at set-up is never accepted again, and
    # the server allows one step of clock drift.
    page.get_by_label("Authentication code").fill(phone.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()

    tab.arrive("/oauth/authorize", f"Allow {APP_NAME}?")
    expect(page.get_by_text(APP_NAME, exact=True)).to_be_visible()
    expect(page.locator("details code")).to_have_text(SCOPES)
    page.get_by_role("button", name="Allow").click()

    tab.arrive(CALLBACK_PATH, CALLBACK_HEADING, origin=relying_party.origin)
    arrived = {name: values[0] for name, values in parse_qs(urlsplit(page.url).query).items()}
    assert relying_party.arrivals(CALLBACK_PATH) == [arrived]
    assert set(arrived) == {"code", "state", "iss"}
    # RFC 6749 §4.1.2: the state comes back unchanged; RFC 9207 §2: the issuer is named.
    assert (arrived["state"], arrived["iss"]) == (state, server.base_url)

    tokens = redeem(server, app, arrived["code"], redirect_uri, verifier)
    claims = verified_id_token(server, tokens["id_token"], audience=app["client_id"])
    assert claims["nonce"] == nonce
    assert claims["sub"] == account.subject
    assert "otp" in claims["amr"] and "pwd" in claims["amr"], claims["amr"]

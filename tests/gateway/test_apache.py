"""docs/gateways.md, run: Apache httpd + mod_auth_openidc in front of an app and an API.

The relying party is driven in headless Chromium, as a person uses it: the app's URL, our
sign-in and consent pages, the app with the person's claims, then signing out through our
end-session endpoint. The resource server is called with `requests`, in both of its modes
(JWKS and introspection), with tokens from our token endpoint.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.browser.flows import PASSWORD, fill_in_sign_in, new_account
from tests.gateway.conftest import (
    ANOTHER_API,
    ANOTHER_SCOPE,
    API_IDENTIFIER,
    MODES,
    READ_SCOPE,
    WRITE_SCOPE,
    Client,
    Gateway,
)
from tests.support.chromium import WatchedPage

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
TIMEOUT_MS = TIMEOUT_SECONDS * 1000


def page_json(tab: WatchedPage) -> Any:  # Any: the backend's JSON
    return json.loads(tab.page.locator("body").inner_text())


def test_the_app_signs_people_in_and_out_through_our_pages(
    gateway: Gateway, tab: WatchedPage
) -> None:
    account = new_account(gateway.server, name="Ada Lovelace")
    app = gateway.app.origin
    page = tab.page

    # The app has no icon: Chromium's request for one is refused by Apache, as expected.
    tab.error_pages.add((app + "/favicon.ico", 404))
    page.goto(app + "/app/orders")
    tab.arrive("/login", "Sign in", origin=gateway.issuer)
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/oauth/authorize", "Allow Orders?", origin=gateway.issuer)
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(app + "/app/orders", timeout=TIMEOUT_MS)
    tab.screenshot("the app")
    echoed = page_json(tab)
    assert echoed["path"] == "/app/orders"
    received = gateway.backend.seen[-1]
    assert received.claims["sub"] == account.subject
    assert received.claims["email"] == account.email
    assert received.claims["name"] == "Ada Lovelace"
    assert received.claims["iss"] == gateway.issuer
    # The module's session cookie is the gateway's business (OIDCStripCookies), not the app's.
    assert "mod_auth_openidc_session" not in received.headers.get("Cookie", "")

    page.goto(f"{app}/app/redirect_uri?logout={quote(app + '/signed-out', safe='')}")
    page.wait_for_url(app + "/signed-out", timeout=TIMEOUT_MS)
    tab.screenshot("signed out")
    assert page_json(tab)["path"] == "/signed-out"
    # Through our end-session endpoint, which redirected at once: the ID token hint proved the
    # request, so no confirmation page was needed.
    ended = [
        record["status"]
        for record in gateway.server.log_records()
        if record.get("logger") == "authserver.request" and record.get("path") == "/oauth/logout"
    ]
    assert ended == [302], ended

    # Our session ended too: the app's URL leads to our sign-in page again, not silently back.
    page.goto(app + "/app/orders")
    tab.arrive("/login", "Sign in", origin=gateway.issuer, name="sign in again")


# --- the API ------------------------------------------------------------------------------------


def token_for(
    gateway: Gateway,
    scope: str,
    client: Client | None = None,
    resource: str | None = API_IDENTIFIER,
) -> str:
    """A client-credentials access token from our token endpoint, through the TLS proxy, for
    the Orders API (RFC 8707 `resource`) unless told otherwise (None: for the issuer)."""
    client = client or gateway.caller
    form = {"grant_type": "client_credentials", "scope": scope}
    if resource is not None:
        form["resource"] = resource
    response = requests.post(
        gateway.issuer + "/oauth/token",
        data=form,
        auth=(client.client_id, client.client_secret),
        verify=str(gateway.certificate.cert_path),
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def revoke(gateway: Gateway, token: str) -> None:
    response = requests.post(
        gateway.issuer + "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(gateway.caller.client_id, gateway.caller.client_secret),
        verify=str(gateway.certificate.cert_path),
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text


def call_api(gateway: Gateway, url: str, token: str | None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(
        url, headers=headers, verify=str(gateway.certificate.cert_path), timeout=TIMEOUT_SECONDS
    )


def assert_refused(gateway: Gateway, response: requests.Response, status: int) -> None:
    seen_before = len(gateway.backend.seen)
    assert response.status_code == status, (
        f"{response.status_code} {response.text}\nApache's error log:\n"
        + gateway.apache.error_log()[-4000:]
    )
    if status == 401:  # RFC 6750 §3: tells the client to bring a (valid) bearer token
        assert response.headers["WWW-Authenticate"].startswith("Bearer "), response.headers
    assert len(gateway.backend.seen) == seen_before


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_request_without_a_token(gateway: Gateway, mode: str) -> None:
    assert_refused(gateway, call_api(gateway, gateway.api(mode) + "stock", None), 401)


@pytest.mark.parametrize("mode", MODES)
def test_the_api_passes_a_valid_tokens_claims_on(gateway: Gateway, mode: str) -> None:
    token = token_for(gateway, READ_SCOPE)
    # A client cannot claim to be someone else: the module removes its own headers' lookalikes.
    response = call_api(gateway, gateway.api(mode) + "stock", token, OIDC_CLAIM_sub="someone")

    assert response.status_code == 200, response.text
    received = gateway.backend.seen[-1]
    assert received.path == "/stock"
    assert received.claims["sub"] == gateway.caller.client_id
    assert received.claims["client_id"] == gateway.caller.client_id
    assert received.claims["scope"] == READ_SCOPE
    assert received.claims["iss"] == gateway.issuer


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_token_for_another_audience(gateway: Gateway, mode: str) -> None:
    token = token_for(gateway, READ_SCOPE)
    response = call_api(gateway, gateway.api(mode, audience="another") + "stock", token)
    assert_refused(gateway, response, 403)


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_token_for_another_of_our_apis(gateway: Gateway, mode: str) -> None:
    token = token_for(gateway, ANOTHER_SCOPE, resource=ANOTHER_API)
    response = call_api(gateway, gateway.api(mode) + "stock", token)
    # JWKS mode sees the wrong `aud`; in introspection mode we answer {"active": false} to the
    # Orders API's server for another API's token (RFC 7662 §4), and the module says 401.
    assert_refused(gateway, response, 403 if mode == "jwks" else 401)


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_token_meant_for_us_not_for_it(gateway: Gateway, mode: str) -> None:
    """A token asked for without `resource` is for the issuer (userinfo), not for any API."""
    token = token_for(gateway, READ_SCOPE, resource=None)
    response = call_api(gateway, gateway.api(mode) + "stock", token)
    assert_refused(gateway, response, 403 if mode == "jwks" else 401)


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_token_without_its_scope(gateway: Gateway, mode: str) -> None:
    token = token_for(gateway, WRITE_SCOPE)
    assert_refused(gateway, call_api(gateway, gateway.api(mode) + "stock", token), 403)


@pytest.mark.parametrize("mode", MODES)
def test_the_api_refuses_a_forged_token(gateway: Gateway, mode: str) -> None:
    header, payload, signature = token_for(gateway, READ_SCOPE).split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    assert_refused(gateway, call_api(gateway, gateway.api(mode) + "stock", forged), 401)


def test_introspection_mode_refuses_a_revoked_token(gateway: Gateway) -> None:
    token = token_for(gateway, READ_SCOPE)
    assert call_api(gateway, gateway.api("introspection") + "stock", token).status_code == 200

    revoke(gateway, token)

    response = call_api(gateway, gateway.api("introspection") + "stock", token)
    assert_refused(gateway, response, 401)


def test_jwks_mode_accepts_a_revoked_token_until_it_expires(gateway: Gateway) -> None:
    """What docs/gateways.md warns about: JWKS mode never asks us, so it cannot know."""
    token = token_for(gateway, READ_SCOPE)
    revoke(gateway, token)
    assert call_api(gateway, gateway.api("jwks") + "stock", token).status_code == 200


def test_jwks_mode_cannot_verify_an_eddsa_token(gateway: Gateway) -> None:
    """Why docs/gateways.md asks for RS256 or ES256: the module's JOSE library skips our
    Ed25519 key, so it finds no key for the token's signature."""
    token = token_for(gateway, READ_SCOPE, gateway.eddsa_caller)
    assert_refused(gateway, call_api(gateway, gateway.api("jwks") + "stock", token), 401)


def test_introspection_mode_accepts_an_eddsa_token(gateway: Gateway) -> None:
    """Introspection leaves the signature to us, so the algorithm does not matter there."""
    token = token_for(gateway, READ_SCOPE, gateway.eddsa_caller)
    response = call_api(gateway, gateway.api("introspection") + "stock", token)
    assert response.status_code == 200, response.text
    assert gateway.backend.seen[-1].claims["client_id"] == gateway.eddsa_caller.client_id

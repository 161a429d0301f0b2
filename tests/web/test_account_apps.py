"""Connected apps on the account page: what each may do, and taking the permission back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.keys.manager import ensure_active_keys
from tests.conftest import AppFactory
from tests.factories import make_user
from tests.support.account import audit_tags, browser, signed_in_browser, snapshot, submit
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    authorize,
    exchange_code,
    make_relying_party,
    obtain_code,
    token_request,
)


@pytest.fixture
def site(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    built = make_app()
    with built.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        make_user()
        yield built


def connect(client: FlaskClient, rp: RelyingParty, scope: str | None = None) -> dict[str, Any]:
    """Run the code flow (consenting when asked) and return the token response."""
    pkce = Pkce()
    extra = {} if scope is None else {"scope": scope}
    response = exchange_code(client, rp, obtain_code(client, rp, pkce, **extra), pkce)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json
    return tokens


def introspect(client: FlaskClient, rp: RelyingParty, token: str) -> dict[str, Any]:
    """Asked by the app the token was issued to: the one client told about it (RFC 7662 §4)."""
    answer: dict[str, Any] = token_request(
        client, rp, {"token": token}, path="/oauth/introspect"
    ).json
    return answer


def test_connected_apps_are_listed_with_their_scopes(site: Flask) -> None:
    client = signed_in_browser(site)
    connect(client, make_relying_party(name="Photo Printer"), scope="openid email")
    connect(client, make_relying_party(name="Calendar"))

    page = client.get("/account").text

    names = re.findall(r'<p class="item-title" id="app-\d+">([^<]+)</p>', page)
    assert names == ["Calendar", "Photo Printer"]
    printer = page[page.index("Photo Printer") :]
    assert "<span>Your email address</span> <code>email</code>" in printer
    assert "<code>profile</code>" not in printer
    assert re.search(r'<time datetime="20[^"]+">\d{4}-\d{2}-\d{2}</time>', printer)
    assert page.count(">Revoke</button>") == 2
    assert "No apps have access" not in page


def test_revoking_an_app_ends_its_tokens_and_asks_again(site: Flask) -> None:
    client = signed_in_browser(site)
    rp = make_relying_party(name="Calendar")
    first = connect(client, rp)
    second = connect(client, rp)  # a second grant to the same app
    other_app = make_relying_party(name="Photo Printer")
    kept = connect(client, other_app)

    response = submit(client, "/account/apps/revoke", {"client_id": rp.client_id})

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = client.get("/account").text
    assert "The app was disconnected." in page
    assert "Calendar" not in page and "Photo Printer" in page
    for tokens in (first, second):
        refreshed = token_request(
            browser(site),
            rp,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.json["error"] == "invalid_grant"
        assert introspect(client, rp, tokens["access_token"]) == {"active": False}
    assert introspect(client, other_app, kept["access_token"])["active"] is True
    assert authorize(client, rp, Pkce()).status_code == 200  # the consent page again
    assert audit_tags().count("consent:revoke") == 1


def test_revoking_also_ends_tokens_issued_without_a_refresh_token(site: Flask) -> None:
    client = signed_in_browser(site)
    rp = make_relying_party(name="Calendar")
    tokens = connect(client, rp, scope="openid email")
    assert "refresh_token" not in tokens

    submit(client, "/account/apps/revoke", {"client_id": rp.client_id})

    assert introspect(client, rp, tokens["access_token"]) == {"active": False}


def test_a_code_not_yet_exchanged_dies_with_the_consent(site: Flask) -> None:
    client = signed_in_browser(site)
    rp = make_relying_party(name="Calendar")
    connect(client, rp)
    pkce = Pkce()
    pending = obtain_code(client, rp, pkce)

    submit(client, "/account/apps/revoke", {"client_id": rp.client_id})

    assert exchange_code(browser(site), rp, pending, pkce).json["error"] == "invalid_grant"


@pytest.mark.parametrize("client_id", ["not-a-client", "x" * 65, ""])
def test_revoking_an_app_that_is_not_connected_changes_nothing(site: Flask, client_id: str) -> None:
    client = signed_in_browser(site)
    connect(client, make_relying_party(name="Calendar"))
    before = snapshot()

    response = submit(client, "/account/apps/revoke", {"client_id": client_id})

    assert snapshot() == before
    if client_id == "not-a-client":
        assert response.status_code == 303
        assert "That app was not connected to your account." in client.get("/account").text
    else:
        assert response.status_code == 400
        assert "That request could not be understood." in response.text


def test_another_users_consent_is_out_of_reach(site: Flask) -> None:
    make_user("bob@example.org")
    bob = signed_in_browser(site, email="bob@example.org")
    rp = make_relying_party(name="Calendar")
    bobs_tokens = connect(bob, rp)
    alice = signed_in_browser(site)
    before = snapshot("bob@example.org")

    submit(alice, "/account/apps/revoke", {"client_id": rp.client_id})

    assert snapshot("bob@example.org").consents == before.consents == 1
    assert introspect(bob, rp, bobs_tokens["access_token"])["active"] is True

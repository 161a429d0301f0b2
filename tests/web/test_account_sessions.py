"""The account page's sessions: listed with device, IP and last seen; ended one or all at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.keys.manager import ensure_active_keys
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import AppFactory
from tests.factories import make_user
from tests.support.account import (
    SAFARI_IPHONE,
    audit_tags,
    browser,
    is_signed_in,
    signed_in_browser,
    snapshot,
    submit,
)
from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    obtain_code,
    token_request,
)
from tests.support.web import sign_out


@pytest.fixture
def site(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    built = make_app()
    with built.app_context():
        make_user()
        yield built


def listed_sessions(client: FlaskClient) -> list[tuple[str, str]]:
    """(sid, the text describing it) for each session on the page, in order."""
    page = client.get("/account").text
    items = re.findall(r'<li class="item">(.*?)</li>\s*(?=<li class="item">|</ul>)', page, re.S)
    listed = []
    for item in items:
        sid = re.search(r'name="sid" value="([^"]+)"', item)
        if sid:
            text = re.sub(r"<[^>]+>", " ", item.split("<form")[0])
            listed.append((sid[1], " ".join(text.split())))
    return listed


def sid_of(client: FlaskClient, device: str) -> str:
    return next(sid for sid, text in listed_sessions(client) if text.startswith(device))


def test_each_session_shows_device_ip_and_last_seen(site: Flask) -> None:
    this = signed_in_browser(site)
    signed_in_browser(site, user_agent=SAFARI_IPHONE, ip="203.0.113.9")
    signed_in_browser(site, user_agent=SAFARI_IPHONE, ip="198.51.100.4")

    listed = listed_sessions(this)

    assert len(listed) == 3
    first = listed[0][1]
    assert first.startswith("Firefox on Linux This device IP address 127.0.0.1 Last seen 20")
    assert "UTC" in first
    assert sum("This device" in text for _sid, text in listed) == 1
    texts = " | ".join(text for _sid, text in listed)
    assert "Safari on iOS IP address 203.0.113.9" in texts
    assert "Safari on iOS IP address 198.51.100.4" in texts


def test_ended_sessions_are_not_listed(site: Flask) -> None:
    this = signed_in_browser(site)
    other = signed_in_browser(site, user_agent=SAFARI_IPHONE)
    assert sign_out(other).status_code == 303

    assert [text.split(" IP")[0] for _sid, text in listed_sessions(this)] == [
        "Firefox on Linux This device"
    ]


def test_signing_out_another_session(site: Flask) -> None:
    this = signed_in_browser(site)
    other = signed_in_browser(site, user_agent=SAFARI_IPHONE)

    response = submit(this, "/account/sessions/sign-out", {"sid": sid_of(this, "Safari")})

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert not is_signed_in(other)
    page = this.get("/account")
    assert "The session was signed out." in page.text
    assert "Safari on iOS" not in page.text
    assert audit_tags()[-1] == "user:session:revoke"


def test_signing_out_this_session_from_the_list(site: Flask) -> None:
    this = signed_in_browser(site)
    other = signed_in_browser(site, user_agent=SAFARI_IPHONE)

    response = submit(this, "/account/sessions/sign-out", {"sid": sid_of(this, "Firefox")})

    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert this.get_cookie(COOKIE_NAME) is None
    assert "You have been signed out." in this.get("/login").text
    assert is_signed_in(other)


def test_another_users_session_cannot_be_ended(site: Flask) -> None:
    make_user("bob@example.org")
    bob = signed_in_browser(site, email="bob@example.org")
    bobs_sid = listed_sessions(bob)[0][0]
    alice = signed_in_browser(site)
    before = snapshot()

    response = submit(alice, "/account/sessions/sign-out", {"sid": bobs_sid})

    assert response.status_code == 303
    assert "That session had already ended." in alice.get("/account").text
    assert is_signed_in(bob)
    assert snapshot() == before


@pytest.mark.parametrize("sid", ["", "x" * 65], ids=["missing", "too long"])
def test_a_malformed_session_id_is_refused(site: Flask, sid: str) -> None:
    this = signed_in_browser(site)
    before = snapshot()

    response = submit(this, "/account/sessions/sign-out", {"sid": sid})

    assert response.status_code == 400
    assert "That request could not be understood." in response.text
    assert snapshot() == before


def test_signing_out_everywhere_ends_every_session_and_token(site: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))
    this = signed_in_browser(site)
    other = signed_in_browser(site, user_agent=SAFARI_IPHONE)
    rp = make_relying_party()
    pkce = Pkce()
    tokens = exchange_code(other, rp, obtain_code(other, rp, pkce), pkce).json

    response = submit(this, "/account/sessions/sign-out-everywhere", {})

    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert "You have been signed out everywhere." in this.get("/login").text
    assert not is_signed_in(this) and not is_signed_in(other)
    refreshed = token_request(
        browser(site), rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.json["error"] == "invalid_grant"
    assert "user:sessions:revoke-all" in audit_tags()
    again = signed_in_browser(site)  # the account itself still works
    assert is_signed_in(again)

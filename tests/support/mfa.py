"""Driving MFA as a person with an authenticator app would: read the key off the set-up page,
compute codes with pyotp (the app), type them into the forms.

Codes are computed here, independently of the server's own TOTP code. A code is accepted once
per 30-second step, so tests that use several codes move a frozen clock forward between them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import time_machine
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.web import csrf_token

CODES_SAVED_PATH = "/account/mfa/recovery-codes"

_SECRET = re.compile(
    r'<code class="secret">((?:<span class="key-group">[A-Z2-7]{1,4}</span> ?)+)</code>'
)
_KEY_GROUP = re.compile(r'<span class="key-group">([A-Z2-7]{1,4})</span>')
_URI = re.compile(r'<a class="button" href="(otpauth://[^"]+)">Open in authenticator app</a>')
_RECOVERY_CODES = re.compile(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>")
# A whole second inside a 30-second step: codes made "now" stay valid while a test runs.
START = datetime(2031, 5, 6, 7, 8, 1, tzinfo=UTC)


class Clock:
    """A frozen clock the test moves on, shared by the server code and the "phone"."""

    def __init__(self, traveller: time_machine.Coordinates) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self._traveller.shift(timedelta(seconds=seconds))

    def next_step(self) -> None:
        """Move into the next TOTP time step: the app then shows a fresh code."""
        self.advance(30)


@contextmanager
def frozen_clock(at: datetime = START) -> Iterator[Clock]:
    with time_machine.travel(at, tick=False) as traveller:
        yield Clock(traveller)


@dataclass
class Authenticator:
    """The app on the phone: it knows the secret and shows the code for the current time."""

    secret: str

    def code(self, *, offset_steps: int = 0) -> str:
        totp = pyotp.TOTP(self.secret)
        return totp.at(datetime.now(UTC) + timedelta(seconds=30 * offset_steps))


@dataclass
class Enrolment:
    authenticator: Authenticator
    recovery_codes: list[str]
    page: TestResponse  # the page that showed the recovery codes


def key_on(text: str) -> str | None:
    """The key the set-up page shows as text (groups of four, joined), or None."""
    shown = _SECRET.search(text)
    return "".join(_KEY_GROUP.findall(shown.group(1))) if shown else None


def otpauth_link_on(text: str) -> str | None:
    """The target of the set-up page's "Open in authenticator app" link, or None."""
    link = _URI.search(text)
    return html.unescape(link.group(1)) if link else None


def read_setup_page(page: TestResponse) -> tuple[Authenticator, str]:
    """The key (as text, in groups of four) and the otpauth:// link of the set-up page."""
    key, uri = key_on(page.text), otpauth_link_on(page.text)
    assert key and uri, "not the set-up page"
    return Authenticator(key), uri


def post_code(
    client: FlaskClient,
    path: str,
    page: TestResponse,
    code: str,
    *,
    action: str | None = None,
    next_path: str | None = None,
) -> TestResponse:
    """Submit the "Authentication code" form of ``page`` (fetched from ``path``)."""
    form = {"csrf_token": csrf_token(page.text), "code": code}
    hidden_next = re.search(r'<input[^>]*name="next"[^>]*value="([^"]*)"', page.text)
    if next_path is not None:
        form["next"] = next_path
    elif hidden_next:
        form["next"] = html.unescape(hidden_next.group(1))
    if action is not None:
        form["action"] = action
    return client.post(path, data=form)


def enrol(client: FlaskClient, *, next_path: str | None = None) -> Enrolment:
    """Set up an authenticator for the signed-in browser; returns the app and recovery codes."""
    page = client.get("/account/mfa")
    assert page.status_code == 200, page.text
    authenticator, _ = read_setup_page(page)
    done = post_code(client, "/account/mfa", page, authenticator.code(), next_path=next_path)
    assert done.status_code == 200, done.text
    codes = recovery_codes_on(done)
    return Enrolment(authenticator, codes, done)


def recovery_codes_on(page: TestResponse) -> list[str]:
    return _RECOVERY_CODES.findall(page.text)


def hidden_fields(page: TestResponse, action: str) -> dict[str, str]:
    """The hidden inputs of the form of ``page`` that posts to ``action``."""
    form = re.search(
        rf'<form method="post" action="{re.escape(action)}">(.*?)</form>', page.text, re.S
    )
    assert form, f"no form posting to {action}"
    fields = re.findall(r'<input[^>]*type="hidden"[^>]*>', form.group(1))
    found: dict[str, str] = {}
    for field in fields:
        name = re.search(r'name="([^"]*)"', field)
        value = re.search(r'value="([^"]*)"', field)
        if name:
            found[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return found


def confirm_codes_saved(
    client: FlaskClient, page: TestResponse, *, saved: bool = True
) -> TestResponse:
    """Submit the "I have saved my recovery codes" form of a recovery-codes ``page``."""
    form = hidden_fields(page, CODES_SAVED_PATH)
    if saved:
        form["saved"] = "y"
    return client.post(CODES_SAVED_PATH, data=form)


def answer_challenge(client: FlaskClient, code: str, location: str = "/mfa") -> TestResponse:
    """Open the challenge page (``location``: where sign-in sent the browser); enter ``code``."""
    page = client.get(location)
    assert page.status_code == 200, page.text
    return post_code(client, "/mfa", page, code)


def next_of(location: str) -> str:
    """The ``next`` parameter of a redirect's Location."""
    values = parse_qs(urlsplit(location).query).get("next")
    assert values, f"no next in {location}"
    return values[0]

"""Driving the device authorization grant (RFC 8628) as a device and as the person helping it.

The device talks to the machine surface (device authorization, token polls); the person uses
the pages (``/device``, sign-in, consent) in a browser, here the Flask test client.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.oauth import PASSWORD, RelyingParty, make_relying_party, token_request
from tests.support.web import csrf_token, sign_in

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization"
USER_CODE_SHAPE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")
_TICKET_FIELD = re.compile(r'name="request" value="([^"]*)"')


def make_device_client(**changes: Any) -> RelyingParty:
    """A device app: the device grant (and refresh), no redirect URI at all."""
    registration: dict[str, Any] = {
        "name": "Living Room TV",
        "redirect_uris": (),
        "grant_types": (DEVICE_GRANT, "refresh_token"),
        "scope": "openid profile email offline_access",
    }
    registration.update(changes)
    return make_relying_party(**registration)


@dataclass
class DeviceStart:
    device_code: str
    user_code: str
    body: dict[str, Any]


def start(device: FlaskClient, rp: RelyingParty, **params: str) -> DeviceStart:
    params.setdefault("scope", "openid profile")
    response = device_authorization(device, rp, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json
    return DeviceStart(body["device_code"], body["user_code"], body)


def device_authorization(device: FlaskClient, rp: RelyingParty, **params: str) -> TestResponse:
    return token_request(device, rp, dict(params), path=DEVICE_AUTHORIZATION_PATH)


def poll(device: FlaskClient, rp: RelyingParty, device_code: str, **extra: str) -> TestResponse:
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code, **extra}
    return token_request(device, rp, data)


def enter_code(browser: FlaskClient, user_code: str) -> TestResponse:
    """The person types the code at /device and presses Continue."""
    page = browser.get("/device")
    return browser.post(
        "/device", data={"csrf_token": csrf_token(page.text), "user_code": user_code}
    )


def reach_consent(browser: FlaskClient, user_code: str, email: str) -> TestResponse:
    """Enter the code, sign in when sent to, and come back: the consent page."""
    entered = enter_code(browser, user_code)
    assert entered.status_code == 303, entered.text
    confirm = entered.headers["Location"]
    page = browser.get(confirm)
    if page.status_code == 303:  # not signed in yet
        location = urlsplit(page.headers["Location"])
        assert location.path == "/login"
        next_path = parse_qs(location.query)["next"][0]
        assert next_path == confirm
        signed = sign_in(browser, email, PASSWORD, next_path=next_path)
        assert signed.status_code == 303 and signed.headers["Location"] == confirm
        page = browser.get(confirm)
    assert page.status_code == 200, page.text
    return page


def answer(browser: FlaskClient, consent_page: TestResponse, decision: str) -> TestResponse:
    ticket = _TICKET_FIELD.search(consent_page.text)
    assert ticket, "not the device's consent page"
    return browser.post(
        "/device/confirm",
        data={
            "csrf_token": csrf_token(consent_page.text),
            "request": html.unescape(ticket.group(1)),
            "decision": decision,
        },
    )

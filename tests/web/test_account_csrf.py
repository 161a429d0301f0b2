"""Every form of the account page refuses a POST without its CSRF token, changing nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.keys.manager import ensure_active_keys
from tests.conftest import AppFactory
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.support.account import (
    SAFARI_IPHONE,
    is_signed_in,
    signed_in_browser,
    snapshot,
    submit,
)
from tests.support.oauth import Pkce, exchange_code, make_relying_party, obtain_code


@pytest.fixture
def site(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    built = make_app()
    with built.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        make_user(name="Alice Liddell")
        yield built


def field_value(client: FlaskClient, name: str, index: int = 0) -> str:
    values = re.findall(rf'name="{name}" value="([^"]+)"', client.get("/account").text)
    return str(values[index])


FORMS = {
    "profile": ("/account/profile", lambda c: {"name": "Mallory"}),
    "password": (
        "/account/password",
        lambda c: {
            "current_password": DEFAULT_PASSWORD,
            "new_password": "chosen by the attacker site",
            "confirm_password": "chosen by the attacker site",
        },
    ),
    "sign out one session": (
        "/account/sessions/sign-out",
        lambda c: {"sid": field_value(c, "sid", 1)},
    ),
    "sign out everywhere": ("/account/sessions/sign-out-everywhere", lambda c: {}),
    "revoke an app": ("/account/apps/revoke", lambda c: {"client_id": field_value(c, "client_id")}),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("token", ["missing", "forged"])
def test_a_form_without_a_valid_csrf_token_changes_nothing(
    site: Flask, form: str, token: str
) -> None:
    this = signed_in_browser(site)
    other = signed_in_browser(site, user_agent=SAFARI_IPHONE)
    rp = make_relying_party(name="Calendar")
    pkce = Pkce()
    exchange_code(this, rp, obtain_code(this, rp, pkce), pkce)
    path, data = FORMS[form]
    fields = data(this)
    if token == "forged":
        fields["csrf_token"] = "IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAi.Zz.forged"
    before = snapshot()

    response = submit(this, path, fields, with_csrf=False)

    assert response.status_code == 400
    assert "Something went wrong with this request (400)." in response.text
    assert snapshot() == before
    assert is_signed_in(this) and is_signed_in(other)

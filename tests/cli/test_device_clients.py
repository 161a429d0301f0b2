"""Registering device apps (RFC 8628) with ``authserver client create``, then using them."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from authserver.keys.manager import ensure_active_keys
from authserver.oauth.clients import get_client
from tests.support.cli import Cli
from tests.support.device import DEVICE_GRANT, answer, poll, reach_consent, start
from tests.support.oauth import ISSUER, RelyingParty, make_user, verify_jwt


def device_flow(app: Flask, client: FlaskClient, rp: RelyingParty) -> dict[str, str]:
    ensure_active_keys(now=datetime.now(UTC))
    user = make_user()
    begun = start(client, rp, scope="openid profile")
    browser = app.test_client()
    answer(browser, reach_consent(browser, begun.user_code, user.email), "allow")
    response = poll(client, rp, begun.device_code)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json
    return tokens


def test_a_public_device_app_needs_no_redirect_uri(
    app: Flask, client: FlaskClient, cli: Cli
) -> None:
    created = cli.json(
        "client", "create", "--name", "Kitchen Display", "--public",
        "--grant-type", DEVICE_GRANT, "--scope", "openid profile",
    )  # fmt: skip

    assert created["public"] is True and "client_secret" not in created
    assert created["grant_types"] == [DEVICE_GRANT]
    assert created["redirect_uris"] == []
    rp = RelyingParty(get_client(created["client_id"]), None)
    tokens = device_flow(app, client, rp)
    claims = verify_jwt(client, tokens["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["client_id"] == created["client_id"]


def test_a_confidential_device_app_authenticates_with_its_secret(
    app: Flask, client: FlaskClient, cli: Cli
) -> None:
    created = cli.json(
        "client", "create", "--name", "Printer",
        "--grant-type", DEVICE_GRANT, "--grant-type", "refresh_token",
        "--scope", "openid profile offline_access",
    )  # fmt: skip

    assert created["public"] is False
    assert created["grant_types"] == [DEVICE_GRANT, "refresh_token"]
    rp = RelyingParty(get_client(created["client_id"]), created["client_secret"])
    tokens = device_flow(app, client, rp)
    assert verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")


def test_a_device_grant_can_be_added_to_an_existing_app(cli: Cli) -> None:
    created = cli.json(
        "client", "create", "--name", "Web App", "--redirect-uri", "https://app.example/cb"
    )

    updated = cli.json(
        "client", "update", created["client_id"],
        "--grant-type", "authorization_code", "--grant-type", DEVICE_GRANT,
    )  # fmt: skip

    assert updated["grant_types"] == ["authorization_code", DEVICE_GRANT]

"""end_all_credentials: one call ends sessions, refresh tokens and access tokens of a user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from authserver.accounts.credentials import end_all_credentials
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from tests.support.oauth import (
    Pkce,
    authorize,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    redirect_params,
    sign_in,
    token_request,
)


@pytest.fixture(autouse=True)
def signing_keys(app: object) -> None:
    ensure_active_keys(now=datetime.now(UTC))


def test_everything_the_user_held_is_dead_afterwards(client: FlaskClient) -> None:
    user = make_user()
    rp = make_relying_party()
    sign_in(client)
    pkce = Pkce()
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json

    end_all_credentials(user, now=datetime.now(UTC))
    db.session.commit()

    # Asked by the token's own app, which introspection answers (RFC 7662 §4).
    introspected = token_request(
        client, rp, {"token": tokens["access_token"]}, path="/oauth/introspect"
    )
    assert introspected.json == {"active": False}
    refreshed = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.json["error"] == "invalid_grant"
    prompt_none = authorize(client, rp, Pkce(), prompt="none")
    assert redirect_params(prompt_none)["error"] == "login_required"

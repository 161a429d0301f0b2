"""The authorization code flow with PKCE, end to end through the test client."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from tests.support.oauth import (
    ISSUER,
    Pkce,
    authorize,
    exchange_code,
    left_half_hash,
    make_relying_party,
    make_user,
    obtain_code,
    redirect_params,
    sign_in,
    token_request,
    verify_jwt,
)


def test_code_flow_issues_verifiable_tokens(client: FlaskClient) -> None:
    user = make_user()
    rp = make_relying_party()
    pkce = Pkce()
    sign_in(client)

    code = obtain_code(client, rp, pkce)
    response = exchange_code(client, rp, code, pkce)

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access"
    access = verify_jwt(client, body["access_token"], audience=ISSUER, typ="at+jwt")
    assert access["sub"] == user.subject
    assert access["client_id"] == rp.client_id
    assert access["scope"] == "openid profile email offline_access"
    assert access["exp"] - access["iat"] == 600
    assert {"jti", "iat", "auth_time"} <= access.keys()
    id_token = verify_jwt(client, body["id_token"], audience=rp.client_id, typ="JWT")
    assert id_token["sub"] == user.subject
    assert id_token["nonce"] == "nonce-456"
    assert id_token["at_hash"] == left_half_hash(body["access_token"], "RS256")
    assert id_token["amr"] == ["pwd"]
    assert {"auth_time", "acr", "sid"} <= id_token.keys()
    assert body["refresh_token"]


def test_state_and_issuer_come_back_with_the_code(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(skip_consent=True)
    sign_in(client)

    params = redirect_params(authorize(client, rp, Pkce(), state="xyz/+= 1"))

    assert params["state"] == "xyz/+= 1"
    assert params["iss"] == ISSUER  # RFC 9207


def test_replayed_code_fails_and_revokes_what_it_issued(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party()
    pkce = Pkce()
    sign_in(client)
    code = obtain_code(client, rp, pkce)
    first = exchange_code(client, rp, code, pkce).json

    replay = exchange_code(client, rp, code, pkce)

    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_grant"
    refresh = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert refresh.json["error"] == "invalid_grant"
    events = db.session.scalars(select(AuditEvent.event)).all()
    assert "token:code-replay:failure" in events


def test_wrong_code_verifier_is_invalid_grant(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party()
    sign_in(client)
    code = obtain_code(client, rp, Pkce())

    response = exchange_code(client, rp, code, Pkce())

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"

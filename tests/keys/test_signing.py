"""sign_jwt: tokens that an independent library verifies with the published JWKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import Settings
from authserver.keys.errors import NoActiveKey, UnsupportedAlgorithm
from authserver.keys.manager import REMOVAL_GRACE_SECONDS, advance_lifecycle, ensure_active_keys
from authserver.keys.signing import ACCESS_TOKEN_TYP, ID_TOKEN_TYP, sign_jwt
from tests.support.jwks import header_of, published_kids, verify

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALGS = ["RS256", "ES256", "EdDSA"]


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["authserver.settings"]
    return settings


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("typ", [ACCESS_TOKEN_TYP, ID_TOKEN_TYP])
def test_signed_tokens_verify_with_the_published_jwks(
    client: FlaskClient, alg: str, typ: str
) -> None:
    [active] = [key for key in ensure_active_keys(now=T0) if key.alg == alg]
    claims = {"iss": "http://localhost", "sub": "user-1", "scope": "openid"}

    token = sign_jwt(claims, alg=alg, typ=typ)

    assert header_of(token) == {"alg": alg, "kid": active.kid, "typ": typ}
    assert verify(client, token, alg=alg) == claims


def test_a_tampered_token_is_rejected_by_the_verifier(client: FlaskClient) -> None:
    ensure_active_keys(now=T0)
    header, _payload, signature = sign_jwt({"sub": "a"}, alg="ES256", typ="JWT").split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"admin"}').decode()

    with pytest.raises(jwt.InvalidSignatureError):
        verify(client, f"{header}.{forged_payload}.{signature}", alg="ES256")


def test_the_next_key_is_published_before_anything_is_signed_with_it(
    app: Flask, client: FlaskClient
) -> None:
    settings = settings_of(app)
    old = {key.alg: key.kid for key in ensure_active_keys(now=T0)}
    due = T0 + timedelta(seconds=settings.key_rotation_interval)

    [created] = [
        ref for ref in advance_lifecycle(now=due, settings=settings).created if ref.alg == "ES256"
    ]

    assert created.kid in published_kids(client)
    assert header_of(sign_jwt({}, alg="ES256", typ="JWT"))["kid"] == old["ES256"]
    almost = due + timedelta(seconds=settings.jwks_max_age - 1)
    assert advance_lifecycle(now=almost, settings=settings).activated == []
    assert header_of(sign_jwt({}, alg="ES256", typ="JWT"))["kid"] == old["ES256"]

    advance_lifecycle(now=due + timedelta(seconds=settings.jwks_max_age), settings=settings)

    token = sign_jwt({"sub": "u"}, alg="ES256", typ="JWT")
    assert header_of(token)["kid"] == created.kid
    assert verify(client, token, alg="ES256") == {"sub": "u"}


@pytest.mark.parametrize("alg", ALGS)
def test_a_token_signed_before_a_rotation_verifies_until_it_expires(
    app: Flask, client: FlaskClient, time_machine: time_machine.TimeMachineFixture, alg: str
) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    published_at = T0 + timedelta(seconds=settings.key_rotation_interval)
    advance_lifecycle(now=published_at, settings=settings)  # publishes the next keys
    promotion = published_at + timedelta(seconds=settings.jwks_max_age)
    signed_at = promotion - timedelta(seconds=1)
    expires_at = signed_at + timedelta(seconds=settings.access_token_ttl)
    token = sign_jwt({"sub": "u", "exp": int(expires_at.timestamp())}, alg=alg, typ="at+jwt")

    advance_lifecycle(now=promotion, settings=settings)

    time_machine.move_to(expires_at - timedelta(seconds=1), tick=False)
    assert header_of(sign_jwt({}, alg=alg, typ="at+jwt"))["kid"] != header_of(token)["kid"]
    assert verify(client, token, alg=alg)["sub"] == "u"

    removal = promotion + timedelta(seconds=settings.access_token_ttl + REMOVAL_GRACE_SECONDS)
    advance_lifecycle(now=removal - timedelta(seconds=1), settings=settings)
    assert header_of(token)["kid"] in published_kids(client)
    advance_lifecycle(now=removal, settings=settings)
    assert header_of(token)["kid"] not in published_kids(client)


def test_an_unknown_algorithm_is_refused(app: Flask) -> None:
    ensure_active_keys(now=T0)

    with pytest.raises(UnsupportedAlgorithm, match="'HS256'"):
        sign_jwt({}, alg="HS256", typ="JWT")


def test_signing_before_any_key_exists_names_the_fix(app: Flask) -> None:
    with pytest.raises(NoActiveKey, match="no active RS256 signing key"):
        sign_jwt({}, alg="RS256", typ="JWT")

"""GET /.well-known/jwks.json: every published public key, cacheable, nothing private."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import Settings
from authserver.keys.jwks import CACHE_EXTENSION as JWKS_CACHE
from authserver.keys.jwks import RECHECK_SECONDS, JwksCache
from authserver.keys.manager import advance_lifecycle, ensure_active_keys, list_keys, rotate_keys
from tests.conftest import AppFactory
from tests.support.jwks import JWKS_PATH, fetch_jwks, published_kids

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["authserver.settings"]
    return settings


def test_no_keys_yet_is_an_empty_set(client: FlaskClient) -> None:
    assert fetch_jwks(client) == {"keys": []}


def test_each_active_key_is_published_with_public_members_only(client: FlaskClient) -> None:
    active = ensure_active_keys(now=T0)

    keys = fetch_jwks(client)["keys"]

    assert sorted(key["kid"] for key in keys) == sorted(key.kid for key in active)
    by_alg = {key["alg"]: key for key in keys}
    assert set(by_alg["RS256"]) == {"kid", "kty", "alg", "use", "n", "e"}
    assert set(by_alg["ES256"]) == {"kid", "kty", "alg", "use", "crv", "x", "y"}
    assert set(by_alg["EdDSA"]) == {"kid", "kty", "alg", "use", "crv", "x"}
    for key in keys:
        assert key["use"] == "sig"
        assert not set(PRIVATE_MEMBERS) & set(key), key


def test_next_active_and_retired_keys_are_all_published(app: Flask, client: FlaskClient) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    rotate_keys(now=T0, settings=settings)
    advance_lifecycle(now=T0 + timedelta(seconds=settings.jwks_max_age), settings=settings)
    rotate_keys(now=T0 + timedelta(seconds=settings.jwks_max_age), settings=settings)

    states = sorted(key.state.value for key in list_keys())

    assert states == ["active"] * 3 + ["next"] * 3 + ["retired"] * 3
    assert sorted(published_kids(client)) == sorted(key.kid for key in list_keys())


def test_the_document_is_cacheable_json(
    app: Flask,  # empties the database
    make_app: AppFactory,
) -> None:
    ensure_active_keys(now=T0)
    short_lived = make_app(jwks_max_age=123)

    response = short_lived.test_client().get(JWKS_PATH)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=123"
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")


def test_a_matching_etag_gets_304_without_a_body(client: FlaskClient) -> None:
    ensure_active_keys(now=T0)
    etag = client.get(JWKS_PATH).headers["ETag"]

    response = client.get(JWKS_PATH, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("sent", ['"something-else"', 'W/"something-else"'])
def test_a_different_etag_gets_the_document(client: FlaskClient, sent: str) -> None:
    ensure_active_keys(now=T0)

    response = client.get(JWKS_PATH, headers={"If-None-Match": sent})

    assert response.status_code == 200
    assert response.json is not None and len(response.json["keys"]) == 3


def test_the_etag_changes_with_the_key_set_and_only_then(app: Flask, client: FlaskClient) -> None:
    ensure_active_keys(now=T0)
    first = client.get(JWKS_PATH)
    again = client.get(JWKS_PATH)

    rotate_keys(now=T0, settings=settings_of(app), algs=["ES256"])
    after = client.get(JWKS_PATH, headers={"If-None-Match": first.headers["ETag"]})

    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.data == first.data
    assert after.status_code == 200
    assert after.headers["ETag"] != first.headers["ETag"]
    assert len(after.json["keys"]) == 4  # type: ignore[index]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_instances_agree_on_the_published_set_within_seconds(
    app: Flask, make_app: AppFactory
) -> None:
    ensure_active_keys(now=T0)
    peer = make_app(encryption_keys=settings_of(app).encryption_keys)
    clock = FakeClock()
    cache: JwksCache = peer.extensions[JWKS_CACHE]
    cache.clock = clock
    peer_client = peer.test_client()
    before = peer_client.get(JWKS_PATH).headers["ETag"]

    rotate_keys(now=T0, settings=settings_of(app), algs=["RS256"])
    clock.now += 2
    meanwhile = peer_client.get(JWKS_PATH)
    clock.now += RECHECK_SECONDS
    later = peer_client.get(JWKS_PATH)

    # The peer's document may lag by seconds, and says so, so caches count the lag.
    assert meanwhile.headers["ETag"] == before
    assert meanwhile.headers["Age"] == "2"
    assert later.headers["ETag"] != before
    assert "Age" not in later.headers
    assert sorted(published_kids(peer_client)) == sorted(key.kid for key in list_keys())


def test_the_recheck_is_a_small_part_of_the_max_age() -> None:
    assert JwksCache(jwks_max_age=900).recheck_seconds == RECHECK_SECONDS
    assert JwksCache(jwks_max_age=20).recheck_seconds == 2

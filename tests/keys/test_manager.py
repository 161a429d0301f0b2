"""Signing-key lifecycle by age, rotation on demand, encryption at rest, the signing cache."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authserver.config import Settings
from authserver.dev_secrets import new_encryption_key
from authserver.extensions import db
from authserver.keys.errors import (
    ConcurrentKeyChange,
    CorruptKey,
    NoActiveKey,
    UnsupportedAlgorithm,
)
from authserver.keys.manager import (
    REMOVAL_GRACE_SECONDS,
    advance_lifecycle,
    ensure_active_keys,
    get_signing_key,
    list_keys,
    rotate_keys,
)
from authserver.keys.signing import sign_jwt
from authserver.models.keys import KeyState, SigningKey
from authserver.security import crypto
from authserver.security.errors import DecryptionError, UnknownEncryptionKey
from tests.conftest import AppFactory
from tests.support.jwks import header_of, verify

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALGS = ["RS256", "ES256", "EdDSA"]


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["authserver.settings"]
    return settings


def states() -> dict[str, dict[str, str]]:
    """kid -> state, per algorithm."""
    grouped: dict[str, dict[str, str]] = {alg: {} for alg in ALGS}
    for key in list_keys():
        grouped[key.alg][key.kid] = key.state.value
    return grouped


def kid_in(state: str, alg: str) -> str:
    [kid] = [kid for kid, each in states()[alg].items() if each == state]
    return kid


def later(seconds: int, start: datetime = T0) -> datetime:
    return start + timedelta(seconds=seconds)


# --- bootstrap -----------------------------------------------------------------------------------


def test_ensure_active_keys_gives_each_algorithm_one_active_key_once(app: Flask) -> None:
    first = ensure_active_keys(now=T0)
    second = ensure_active_keys(now=later(60))

    assert [(key.alg, key.state) for key in first] == [(alg, KeyState.ACTIVE) for alg in ALGS]
    assert [key.kid for key in second] == [key.kid for key in first]
    assert all(key.activated_at == T0 and key.created_at == T0 for key in second)
    assert len({key.kid for key in first}) == 3
    assert all(len(key.kid) >= 16 for key in first)


def test_bootstrap_keys_have_the_promised_types_and_sizes(app: Flask) -> None:
    ensure_active_keys(now=T0)

    rsa_jwk, ec_jwk, okp_jwk = (get_public_jwk(alg) for alg in ALGS)

    assert rsa_jwk["kty"] == "RSA"
    assert len(decode_b64(rsa_jwk["n"])) * 8 >= 2048
    assert (ec_jwk["kty"], ec_jwk["crv"]) == ("EC", "P-256")
    assert (okp_jwk["kty"], okp_jwk["crv"]) == ("OKP", "Ed25519")


def get_public_jwk(alg: str) -> dict[str, str]:
    query = select(SigningKey.public_jwk).where(SigningKey.alg == alg)
    jwk: dict[str, str] = db.session.scalars(query).one()
    return jwk


def decode_b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# --- lifecycle by age ----------------------------------------------------------------------------


def test_nothing_happens_before_the_rotation_interval(app: Flask) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)

    report = advance_lifecycle(now=later(settings.key_rotation_interval - 1), settings=settings)

    assert not report.changed
    assert all(list(each.values()) == ["active"] for each in states().values())


def test_an_old_active_key_gets_a_published_successor(app: Flask) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    due = later(settings.key_rotation_interval)

    report = advance_lifecycle(now=due, settings=settings)

    assert [ref.alg for ref in report.created] == ALGS
    assert all(ref.activates_at == later(settings.jwks_max_age, due) for ref in report.created)
    for alg in ALGS:
        assert sorted(states()[alg].values()) == ["active", "next"]
    again = advance_lifecycle(now=later(1, due), settings=settings)
    assert not again.changed, "one next key per algorithm is enough"


def test_a_next_key_is_promoted_once_published_for_the_jwks_max_age(app: Flask) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    due = later(settings.key_rotation_interval)
    advance_lifecycle(now=due, settings=settings)
    old, new = kid_in("active", "EdDSA"), kid_in("next", "EdDSA")

    early = advance_lifecycle(now=later(settings.jwks_max_age - 1, due), settings=settings)
    promoted_at = later(settings.jwks_max_age, due)
    report = advance_lifecycle(now=promoted_at, settings=settings)

    assert not early.changed
    assert new in [ref.kid for ref in report.activated]
    assert old in [ref.kid for ref in report.retired]
    assert states()["EdDSA"] == {old: "retired", new: "active"}
    keys = {key.kid: key for key in list_keys()}
    assert keys[old].retired_at == promoted_at
    assert keys[new].activated_at == promoted_at


def test_a_retired_key_is_removed_once_its_tokens_have_expired(app: Flask) -> None:
    settings = settings_of(app)
    retired_at = retire_current_keys(app)
    old = kid_retired("RS256")
    lifetime = max(settings.access_token_ttl, settings.id_token_ttl)
    removal = later(lifetime + REMOVAL_GRACE_SECONDS, retired_at)

    kept = advance_lifecycle(now=later(-1, removal), settings=settings)
    report = advance_lifecycle(now=removal, settings=settings)

    assert old not in [ref.kid for ref in kept.removed]
    assert old in [ref.kid for ref in report.removed]
    assert old not in states()["RS256"]
    assert sorted(states()["RS256"].values()) == ["active"]


def test_a_longer_token_lifetime_keeps_retired_keys_longer(app: Flask) -> None:
    settings = settings_of(app)
    retired_at = retire_current_keys(app)
    old = kid_retired("ES256")
    usual = later(settings.access_token_ttl + REMOVAL_GRACE_SECONDS, retired_at)

    report = advance_lifecycle(now=usual, settings=settings, max_token_lifetime_seconds=3600)

    assert report.removed == []
    assert old in states()["ES256"]


def test_the_token_lifetime_is_the_longer_of_access_and_id_tokens(
    app: Flask,  # empties the database
    make_app: AppFactory,
) -> None:
    app = make_app(access_token_ttl=300, id_token_ttl=1200)
    with app.app_context():
        settings = settings_of(app)
        retired_at = retire_current_keys(app)

        early = advance_lifecycle(
            now=later(300 + REMOVAL_GRACE_SECONDS, retired_at), settings=settings
        )
        late = advance_lifecycle(
            now=later(1200 + REMOVAL_GRACE_SECONDS, retired_at), settings=settings
        )

    assert early.removed == []
    assert len(late.removed) == 3


def retire_current_keys(app: Flask) -> datetime:
    """Bootstrap at T0, rotate by age; return when the first keys were retired."""
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    due = later(settings.key_rotation_interval)
    advance_lifecycle(now=due, settings=settings)
    promoted_at = later(settings.jwks_max_age, due)
    advance_lifecycle(now=promoted_at, settings=settings)
    return promoted_at


def kid_retired(alg: str) -> str:
    return kid_in("retired", alg)


# --- rotation on demand --------------------------------------------------------------------------


def test_rotate_publishes_next_keys_and_keeps_signing_with_the_active_ones(app: Flask) -> None:
    settings = settings_of(app)
    active = {key.alg: key.kid for key in ensure_active_keys(now=T0)}

    report = rotate_keys(now=later(60), settings=settings)

    assert [ref.alg for ref in report.created] == ALGS
    assert all(ref.activates_at == later(60 + settings.jwks_max_age) for ref in report.created)
    for alg in ALGS:
        assert header_of(sign_jwt({}, alg=alg, typ="JWT"))["kid"] == active[alg]


def test_rotate_only_the_named_algorithms_and_keep_a_waiting_next_key(app: Flask) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)

    first = rotate_keys(now=later(60), settings=settings, algs=["ES256"])
    second = rotate_keys(now=later(120), settings=settings, algs=["ES256", "ES256"])

    assert [ref.alg for ref in first.created] == ["ES256"]
    assert second.created == []
    assert [ref.kid for ref in second.kept_next] == [first.created[0].kid]
    assert sorted(states()["RS256"].values()) == ["active"]


def test_immediate_rotation_activates_a_fresh_key_now(app: Flask, client: FlaskClient) -> None:
    settings = settings_of(app)
    ensure_active_keys(now=T0)
    rotate_keys(now=later(60), settings=settings, algs=["RS256"])
    waiting, old = kid_in("next", "RS256"), kid_in("active", "RS256")

    report = rotate_keys(now=later(120), settings=settings, algs=["RS256"], immediately=True)

    new = kid_in("active", "RS256")
    assert [ref.kid for ref in report.removed] == [waiting]
    assert [ref.kid for ref in report.retired] == [old]
    assert [ref.kid for ref in report.activated] == [new]
    assert states()["RS256"] == {old: "retired", new: "active"}
    token = sign_jwt({"sub": "u"}, alg="RS256", typ="JWT")
    assert header_of(token)["kid"] == new
    assert verify(client, token, alg="RS256") == {"sub": "u"}


def test_rotation_needs_existing_keys(app: Flask) -> None:
    with pytest.raises(NoActiveKey, match="run `authserver init`"):
        rotate_keys(now=T0, settings=settings_of(app))

    assert list_keys() == []


def test_rotation_refuses_unknown_algorithms_before_changing_anything(app: Flask) -> None:
    ensure_active_keys(now=T0)

    with pytest.raises(UnsupportedAlgorithm):
        rotate_keys(now=T0, settings=settings_of(app), algs=["ES256", "none"])

    assert all(list(each.values()) == ["active"] for each in states().values())


def test_the_database_allows_one_active_key_per_algorithm(app: Flask) -> None:
    [existing, *_] = ensure_active_keys(now=T0)
    db.session.add(
        SigningKey(
            alg=existing.alg,
            state=KeyState.ACTIVE,
            public_jwk={},
            private_key_encrypted=b"x",
            created_at=T0,
        )
    )

    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_instances_bootstrapping_at_the_same_moment_agree_on_one_set(
    app: Flask, make_app: AppFactory
) -> None:
    peer = make_app(encryption_keys=settings_of(app).encryption_keys)
    peer_kids: list[str] = []

    def peer_bootstraps_first(session: Session, *_: object) -> None:
        with peer.app_context():
            peer_kids.extend(key.kid for key in ensure_active_keys(now=T0))

    event.listen(Session, "before_flush", peer_bootstraps_first, once=True)
    try:
        ours = ensure_active_keys(now=T0)
    finally:
        event.remove(Session, "before_flush", peer_bootstraps_first)

    assert [key.kid for key in ours] == peer_kids
    assert len(list_keys()) == 3


def test_a_peer_rotating_at_the_same_moment_wins_cleanly(app: Flask, make_app: AppFactory) -> None:
    ensure_active_keys(now=T0)
    peer = make_app(encryption_keys=settings_of(app).encryption_keys)

    def peer_rotates_first(session: Session, *_: object) -> None:
        with peer.app_context():
            rotate_keys(now=T0, settings=settings_of(peer), algs=["EdDSA"])

    event.listen(Session, "before_flush", peer_rotates_first, once=True)
    try:
        with pytest.raises(ConcurrentKeyChange):
            rotate_keys(now=T0, settings=settings_of(app), algs=["EdDSA"])
    finally:
        event.remove(Session, "before_flush", peer_rotates_first)

    assert sorted(states()["EdDSA"].values()) == ["active", "next"]


# --- encryption at rest --------------------------------------------------------------------------


def test_private_keys_are_stored_encrypted(app: Flask) -> None:
    ensure_active_keys(now=T0)

    for alg in ALGS:
        handle = get_signing_key(alg)
        sealed = raw_private_column(handle.kid)
        der = handle.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem = handle.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert der not in sealed
        assert b"PRIVATE KEY" not in sealed
        assert pem.splitlines()[1] not in sealed
        assert crypto.decrypt(sealed, purpose=f"signing-key:{handle.kid}") == der


def raw_private_column(kid: str) -> bytes:
    row = db.session.execute(
        text("SELECT private_key_encrypted FROM signing_keys WHERE kid = :kid"), {"kid": kid}
    ).one()
    return bytes(row[0])


def test_a_key_ring_without_the_key_cannot_load_signing_keys(
    app: Flask, make_app: AppFactory
) -> None:
    ensure_active_keys(now=T0)
    stranger = make_app(encryption_keys=(new_encryption_key(),))

    with stranger.app_context(), pytest.raises(UnknownEncryptionKey) as caught:
        get_signing_key("ES256")

    assert settings_of(app).encryption_keys[0] not in str(caught.value)


def test_a_key_ring_with_the_old_key_second_still_signs(app: Flask, make_app: AppFactory) -> None:
    ensure_active_keys(now=T0)
    [old] = settings_of(app).encryption_keys
    rotated = make_app(encryption_keys=(new_encryption_key(), old))

    with rotated.app_context():
        token = sign_jwt({"sub": "u"}, alg="ES256", typ="JWT")
        claims = verify(rotated.test_client(), token, alg="ES256")

    assert claims == {"sub": "u"}


def test_a_key_sealed_for_another_kid_is_refused(app: Flask) -> None:
    ensure_active_keys(now=T0)
    swap_private_columns(kid_in("active", "ES256"), kid_in("active", "EdDSA"))

    with pytest.raises(DecryptionError, match="failed authentication"):
        get_signing_key("ES256")


def test_a_stored_key_of_the_wrong_type_is_refused(app: Flask) -> None:
    ensure_active_keys(now=T0)
    ed25519_der = get_signing_key("EdDSA").key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    es256 = kid_in("active", "ES256")
    resealed = crypto.encrypt(ed25519_der, purpose=f"signing-key:{es256}")
    db.session.execute(
        update(SigningKey).where(SigningKey.kid == es256).values(private_key_encrypted=resealed)
    )
    db.session.commit()

    with pytest.raises(CorruptKey, match="does not fit its algorithm ES256"):
        get_signing_key("ES256")


def swap_private_columns(kid: str, other: str) -> None:
    sealed = {k: raw_private_column(k) for k in (kid, other)}
    for target, source in ((kid, other), (other, kid)):
        db.session.execute(
            update(SigningKey)
            .where(SigningKey.kid == target)
            .values(private_key_encrypted=sealed[source])
        )
    db.session.commit()


# --- the signing path ----------------------------------------------------------------------------


def test_a_loaded_key_is_not_decrypted_again(app: Flask, make_app: AppFactory) -> None:
    ensure_active_keys(now=T0)
    first = get_signing_key("RS256")
    db.session.execute(
        update(SigningKey).where(SigningKey.kid == first.kid).values(private_key_encrypted=b"junk")
    )
    db.session.commit()

    assert get_signing_key("RS256") is first
    fresh = make_app(encryption_keys=settings_of(app).encryption_keys)
    with fresh.app_context(), pytest.raises(DecryptionError):
        get_signing_key("RS256")


def test_a_peer_keeps_its_cached_key_briefly_and_its_tokens_still_verify(
    app: Flask, client: FlaskClient, make_app: AppFactory
) -> None:
    ensure_active_keys(now=T0)
    before = get_signing_key("ES256").kid
    peer = make_app(encryption_keys=settings_of(app).encryption_keys)

    with peer.app_context():
        rotate_keys(now=later(60), settings=settings_of(peer), algs=["ES256"], immediately=True)
        assert get_signing_key("ES256").kid != before

    token = sign_jwt({"sub": "u"}, alg="ES256", typ="JWT")
    assert header_of(token)["kid"] == before  # still within the active-kid cache lifetime
    assert verify(client, token, alg="ES256") == {"sub": "u"}


def test_handles_do_not_show_their_key_in_repr(app: Flask) -> None:
    ensure_active_keys(now=T0)

    shown = repr(get_signing_key("EdDSA"))

    assert "key=" not in shown
    assert "EdDSA" in shown


def test_the_server_advances_the_lifecycle_by_itself(app: Flask, make_app: AppFactory) -> None:
    """With automatic rotation on, an overdue active key gets a published successor."""
    rotating = make_app(key_auto_rotate=True)
    with rotating.app_context():
        old = ensure_active_keys(now=datetime.now(UTC) - timedelta(days=400))

        rotating.test_client().get("/.well-known/jwks.json")

        states = {key.kid: key.state for key in list_keys()}
        assert all(states[key.kid] is KeyState.ACTIVE for key in old)
        assert sum(state is KeyState.NEXT for state in states.values()) == len(old)

"""Signing-key lifecycle: next -> active -> retired -> removed (DESIGN.md "Keys").

Each algorithm has its own chain. A new key is created *next*: published in the JWKS but not
used. Once it has been published for a whole JWKS cache lifetime (``jwks_max_age``), every
verifier that refreshes its cache knows it, so it becomes *active* and its predecessor *retired*.
A retired key stays published until every token it signed has expired; then it is removed.

The public functions are units of work: they take ``now`` (so tests control time), commit at the
end, and never log or raise with key material.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Executable, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from authserver.audit.events import EventTag, record_event
from authserver.config import Settings
from authserver.extensions import db
from authserver.keys.algorithms import (
    generate_private_key,
    parse_alg,
    private_key_from_der,
    private_key_to_der,
    public_jwk,
)
from authserver.keys.errors import ConcurrentKeyChange, NoActiveKey
from authserver.keys.handles import SigningKeyCache, SigningKeyHandle
from authserver.keys.jwks import jwks_cache
from authserver.models.keys import KeyState, SigningAlg, SigningKey, new_kid
from authserver.security import crypto

log = logging.getLogger(__name__)
_ALG_ORDER = list(SigningAlg)

CACHE_EXTENSION = "authserver.keys.cache"
# A retired key is removed this long after the last token it signed has expired: a peer may go on
# signing with it for up to ACTIVE_KID_TTL_SECONDS after it was replaced, and verifiers commonly
# allow about a minute of clock skew on `exp`.
REMOVAL_GRACE_SECONDS = 60


@dataclass(frozen=True)
class KeyRef:
    """Names a key in a report; ``activates_at`` is the earliest promotion time of a next key."""

    kid: str
    alg: SigningAlg
    activates_at: datetime | None = None

    def as_dict(self) -> dict[str, str]:
        described = {"kid": self.kid, "alg": self.alg.value}
        if self.activates_at is not None:
            described["activates_at"] = self.activates_at.isoformat()
        return described


@dataclass
class LifecycleReport:
    """What one call changed. ``kept_next``: next keys that were already waiting (rotate_keys)."""

    created: list[KeyRef] = field(default_factory=list)
    activated: list[KeyRef] = field(default_factory=list)
    retired: list[KeyRef] = field(default_factory=list)
    removed: list[KeyRef] = field(default_factory=list)
    kept_next: list[KeyRef] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.activated or self.retired or self.removed)

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        return {
            name: [ref.as_dict() for ref in refs]
            for name, refs in (
                ("created", self.created),
                ("activated", self.activated),
                ("retired", self.retired),
                ("removed", self.removed),
                ("kept_next", self.kept_next),
            )
        }


def longest_token_lifetime_seconds(settings: Settings) -> int:
    """How long a token signed now may stay valid; what a retired key must stay published for.

    Per-client lifetimes can be longer: callers of :func:`advance_lifecycle` pass those in
    (``keys.rotation.longest_client_token_lifetime``).
    """
    return max(settings.access_token_ttl, settings.id_token_ttl)


# --- lifecycle -----------------------------------------------------------------------------------


def ensure_active_keys(*, now: datetime) -> list[SigningKey]:
    """Give every algorithm an active key (creating it active at once); return them all.

    Immediate activation skips the next stage, which is right for a brand-new install: no
    verifier has cached a JWKS yet, so none can hold a stale one. (For an algorithm added to an
    existing install the same holds in practice: no client uses it until it has a key.)
    """
    try:
        _create_missing_active_keys(now)
    except ConcurrentKeyChange:
        # Another instance bootstrapped at the same moment (say, several containers running
        # `authserver init` on a fresh database); whatever it did not create, we do now.
        _create_missing_active_keys(now)
    return _active_keys()


def _create_missing_active_keys(now: datetime) -> None:
    report = LifecycleReport()
    for alg, keys in _keys_by_alg().items():
        if keys.active is None:
            created = _create_key(alg, KeyState.ACTIVE, now=now)
            report.created.append(_ref(created))
            report.activated.append(_ref(created))
    _commit(report)


def advance_lifecycle(
    *,
    now: datetime,
    settings: Settings,
    max_token_lifetime_seconds: int | None = None,
    via: str = "schedule",
) -> LifecycleReport:
    """The scheduled step: promote published next keys, prepare successors, remove old keys.

    ``max_token_lifetime_seconds`` is for tokens that live longer than the settings say (such
    as per-client lifetimes); it can only lengthen :func:`longest_token_lifetime_seconds`, never
    remove a key before a token the settings allow has expired. ``via`` names the trigger in the
    audit row (``auto`` inside the server, ``cli`` for ``keys advance``).
    """
    lifetime = max(longest_token_lifetime_seconds(settings), max_token_lifetime_seconds or 0)
    report = LifecycleReport()
    for alg, keys in _keys_by_alg().items():
        if keys.next is not None and _published_long_enough(keys.next, now, settings):
            _promote(keys, keys.next, now=now, report=report)
        if keys.next is None and keys.active is not None and _is_due(keys.active, now, settings):
            keys.next = _create_key(alg, KeyState.NEXT, now=now)
            report.created.append(_ref(keys.next, settings=settings))
        for retired in keys.retired:
            if _all_tokens_expired(retired, now, lifetime) and _remove(retired):
                report.removed.append(_ref(retired))
    _commit(report, via=via)
    return report


def rotate_keys(
    *,
    now: datetime,
    settings: Settings,
    algs: Iterable[str] | None = None,
    immediately: bool = False,
    via: str = "cli",
) -> LifecycleReport:
    """Start a rotation now for ``algs`` (default: all) instead of waiting for the key's age.

    Normally a next key is created (an existing one is kept) and promoted by
    :func:`advance_lifecycle` once it has been published for ``jwks_max_age``.

    ``immediately=True`` is for a compromised key: a fresh key becomes active at once and the old
    one is retired. Verifiers whose cached JWKS predates the new key will not know its kid until
    they refetch (up to ``jwks_max_age``, sooner for those that refetch on an unknown kid). The
    retired key stays published until its tokens have expired, like any retired key.
    """
    chosen = list(SigningAlg) if algs is None else list(dict.fromkeys(map(parse_alg, algs)))
    grouped = _keys_by_alg()
    for alg in chosen:
        if grouped[alg].active is None:
            raise NoActiveKey(alg.value)
    report = LifecycleReport()
    for alg in chosen:
        keys = grouped[alg]
        if immediately:
            _replace_now(alg, keys, now=now, report=report)
        elif keys.next is not None:
            report.kept_next.append(_ref(keys.next, settings=settings))
        else:
            created = _create_key(alg, KeyState.NEXT, now=now)
            report.created.append(_ref(created, settings=settings))
    _commit(report, via=via, detail={"immediately": immediately})
    return report


def list_keys() -> list[SigningKey]:
    """Every stored key, by algorithm and age (the private column is not even loaded)."""
    query = select(SigningKey).options(defer(SigningKey.private_key_encrypted))
    # Sorted here, not in SQL: collations differ between backends, the enum order does not.
    return sorted(db.session.scalars(query), key=_listing_order)


def _listing_order(key: SigningKey) -> tuple[int, datetime, int]:
    return (_ALG_ORDER.index(key.alg), key.created_at, key.id)


# --- the signing path ----------------------------------------------------------------------------


def get_signing_key(alg: str) -> SigningKeyHandle:
    """The active key for ``alg``, ready to sign; raises NoActiveKey or UnsupportedAlgorithm.

    Hot path: at most one small query every few seconds; decryption and parsing happen once
    per key and process.
    """
    algorithm = parse_alg(alg)
    cache = signing_key_cache()
    kid = cache.find_active_kid(algorithm)
    if kid is None:
        kid = _active_kid(algorithm)
        cache.remember_active_kid(algorithm, kid)
    handle = cache.find_handle(algorithm, kid)
    if handle is None:
        handle = _load_handle(algorithm, kid)
        cache.remember_handle(handle)
    return handle


def signing_key_cache() -> SigningKeyCache:
    cache: SigningKeyCache = current_app.extensions[CACHE_EXTENSION]
    return cache


def _active_kid(alg: SigningAlg) -> str:
    query = select(SigningKey.kid).where(SigningKey.state == KeyState.ACTIVE, SigningKey.alg == alg)
    kid = db.session.scalar(query)
    if kid is None:
        raise NoActiveKey(alg.value)
    return kid


def _load_handle(alg: SigningAlg, kid: str) -> SigningKeyHandle:
    sealed = db.session.scalar(
        select(SigningKey.private_key_encrypted).where(SigningKey.kid == kid)
    )
    if sealed is None:  # removed between the two queries: only possible after a long stall
        raise NoActiveKey(alg.value)
    der = crypto.decrypt(sealed, purpose=private_key_purpose(kid))
    return SigningKeyHandle(kid=kid, alg=alg, key=private_key_from_der(der, alg))


# --- helpers -------------------------------------------------------------------------------------


@dataclass
class _AlgKeys:
    active: SigningKey | None = None
    next: SigningKey | None = None
    retired: list[SigningKey] = field(default_factory=list)


def _keys_by_alg() -> dict[SigningAlg, _AlgKeys]:
    grouped = {alg: _AlgKeys() for alg in SigningAlg}
    for key in list_keys():
        slot = grouped[key.alg]
        if key.state is KeyState.ACTIVE:
            slot.active = key
        elif key.state is KeyState.NEXT:
            slot.next = key
        else:
            slot.retired.append(key)
    return grouped


def _active_keys() -> list[SigningKey]:
    return [key for key in list_keys() if key.state is KeyState.ACTIVE]


def private_key_purpose(kid: str) -> str:
    # Bound into the ciphertext: one key's sealed blob cannot be passed off as another's.
    return f"signing-key:{kid}"


def _create_key(alg: SigningAlg, state: KeyState, *, now: datetime) -> SigningKey:
    private_key = generate_private_key(alg)
    kid = new_kid()
    key = SigningKey(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk=public_jwk(private_key, alg=alg, kid=kid),
        private_key_encrypted=crypto.encrypt(
            private_key_to_der(private_key), purpose=private_key_purpose(kid)
        ),
        created_at=now,
        activated_at=now if state is KeyState.ACTIVE else None,
    )
    db.session.add(key)
    return key


def _transition(key: SigningKey, *, to: KeyState, now: datetime) -> bool:
    """Move a key on only if it is still where we saw it: a peer may have got there first."""
    moment = {KeyState.ACTIVE: "activated_at", KeyState.RETIRED: "retired_at"}[to]
    statement = (
        update(SigningKey)
        .where(SigningKey.id == key.id, SigningKey.state == key.state)
        .values({"state": to, moment: now})
    )
    return _affected_rows(statement) == 1


def _remove(key: SigningKey) -> bool:
    statement = delete(SigningKey).where(SigningKey.id == key.id, SigningKey.state == key.state)
    return _affected_rows(statement) == 1


def _affected_rows(statement: Executable) -> int:
    # UPDATE and DELETE always produce a cursor result; the session's signature is wider.
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def _promote(
    keys: _AlgKeys, next_key: SigningKey, *, now: datetime, report: LifecycleReport
) -> None:
    # Retire first: the database allows one active key per algorithm at any moment.
    if keys.active is not None and _transition(keys.active, to=KeyState.RETIRED, now=now):
        report.retired.append(_ref(keys.active))
        keys.retired.append(keys.active)
    if _transition(next_key, to=KeyState.ACTIVE, now=now):
        report.activated.append(_ref(next_key))
    keys.active, keys.next = next_key, None


def _replace_now(
    alg: SigningAlg, keys: _AlgKeys, *, now: datetime, report: LifecycleReport
) -> None:
    # A waiting next key never signed anything, so dropping it is free; kept, it would be
    # promoted over the fresh key later, and after a compromise it may be as exposed.
    if keys.next is not None and _remove(keys.next):
        report.removed.append(_ref(keys.next))
    if keys.active is not None and _transition(keys.active, to=KeyState.RETIRED, now=now):
        report.retired.append(_ref(keys.active))
    created = _create_key(alg, KeyState.ACTIVE, now=now)
    report.created.append(_ref(created))
    report.activated.append(_ref(created))


def _published_long_enough(key: SigningKey, now: datetime, settings: Settings) -> bool:
    return key.created_at + timedelta(seconds=settings.jwks_max_age) <= now


def _is_due(key: SigningKey, now: datetime, settings: Settings) -> bool:
    active_since = key.activated_at or key.created_at
    return active_since + timedelta(seconds=settings.key_rotation_interval) <= now


def _all_tokens_expired(key: SigningKey, now: datetime, lifetime_seconds: int) -> bool:
    retired_at = key.retired_at or now  # unknown: count from now, the cautious choice
    return retired_at + timedelta(seconds=lifetime_seconds + REMOVAL_GRACE_SECONDS) <= now


def _ref(key: SigningKey, *, settings: Settings | None = None) -> KeyRef:
    activates_at = None
    if settings is not None:
        activates_at = key.created_at + timedelta(seconds=settings.jwks_max_age)
    return KeyRef(kid=key.kid, alg=key.alg, activates_at=activates_at)


def _commit(
    report: LifecycleReport,
    *,
    via: str | None = None,
    detail: dict[str, Any] | None = None,  # Any: extra JSON facts for the audit row
) -> None:
    """Commit the step; a step that changed keys and names its trigger is audited with it.

    First keys made by ``ensure_active_keys`` (``authserver init``) are not a rotation and
    carry no ``via``; every rotation, promotion and removal does.
    """
    if report.changed and via is not None:
        changes = {name: refs for name, refs in report.as_dict().items() if refs}
        changes.pop("kept_next", None)
        record_event(
            EventTag.KEY_ROTATED,
            detail={"via": via, **(detail or {}), **changes},
            # The request that happened to run the automatic step did not cause it: its
            # address would name a bystander.
            include_origin=via != "auto",
        )
    try:
        db.session.commit()
    except IntegrityError:
        # A peer created or promoted a key for the same algorithm at the same moment (the
        # database allows one active and one next key per algorithm); its change stands.
        db.session.rollback()
        raise ConcurrentKeyChange from None
    if report.changed:
        signing_key_cache().forget_active_kids()
        jwks_cache().forget()
    for name, refs in (
        ("created", report.created),
        ("activated", report.activated),
        ("retired", report.retired),
        ("removed", report.removed),
    ):
        for ref in refs:
            log.info("signing key %s: alg=%s kid=%s", name, ref.alg.value, ref.kid)

"""Retiring a signing key early (``authserver keys retire KID``), e.g. after a suspected leak.

The rule: the server is never left without an active key for an algorithm. So

- a *next* key is retired at once (it never signed anything);
- an *active* key is retired only when a *next* key of the same algorithm is waiting to take
  over: that key becomes active in the same transaction. With no next key the request is
  refused; ``keys rotate --alg ALG --immediately`` makes and activates a fresh key instead,
  or ``keys rotate --alg ALG`` publishes one to retire onto later;
- a *retired* key is already retired (only ``remove`` does anything to it).

A retired key stays published in the JWKS, so tokens it signed still verify until they expire
(``keys advance`` removes it then). With ``remove=True`` it is deleted now instead: after a
compromise, whatever the thief signs with it must stop verifying, at the price of signing out
everyone holding a token it signed (verifiers drop it when they refetch the JWKS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from authserver.audit.events import EventTag, record_event
from authserver.config import Settings
from authserver.extensions import db
from authserver.keys.errors import KeyRetirementRefused, UnknownKey
from authserver.keys.manager import (
    LifecycleReport,
    _commit,
    _keys_by_alg,
    _promote,
    _ref,
    _remove,
    _transition,
)
from authserver.models.keys import KeyState, SigningKey


@dataclass(frozen=True)
class Retirement:
    report: LifecycleReport
    # The successor was published for less than the JWKS cache lifetime: verifiers with an
    # older cached JWKS will not know its kid until they refetch.
    successor_published_early: bool = False


def retire_key(kid: str, *, now: datetime, settings: Settings, remove: bool = False) -> Retirement:
    """Retire (or with ``remove``, delete) the key ``kid``; audited, commits.

    Raises :class:`UnknownKey`, or :class:`KeyRetirementRefused` saying what to do instead.
    """
    key = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    if key is None:
        raise UnknownKey(kid)
    was = key.state
    report = LifecycleReport()
    early = False
    if was is KeyState.ACTIVE:
        early = _hand_over(key, now=now, settings=settings, report=report)
    elif was is KeyState.NEXT and _transition(key, to=KeyState.RETIRED, now=now):
        report.retired.append(_ref(key))
    elif was is KeyState.RETIRED and not remove:
        raise KeyRetirementRefused(
            f"key {kid} is retired already; --remove takes it out of the JWKS now"
        )
    if remove and _remove_any_state(key):
        report.removed.append(_ref(key))
    record_event(
        EventTag.KEY_RETIRED,
        detail={
            "kid": kid,
            "alg": key.alg.value,
            "was": was.value,
            "removed": remove,
            "activated": [ref.kid for ref in report.activated],
        },
    )
    _commit(report)
    return Retirement(report=report, successor_published_early=early)


def _hand_over(
    key: SigningKey, *, now: datetime, settings: Settings, report: LifecycleReport
) -> bool:
    """Promote the algorithm's next key over ``key``; refuse when there is none."""
    keys = _keys_by_alg()[key.alg]
    successor = keys.next
    if successor is None:
        alg = key.alg.value
        raise KeyRetirementRefused(
            f"key {key.kid} is the only active {alg} key and no next {alg} key is waiting; "
            f"run `authserver keys rotate --alg {alg} --immediately` to replace it now, or "
            f"`authserver keys rotate --alg {alg}` and retire it once the new key is published"
        )
    published_for = (now - successor.created_at).total_seconds()
    _promote(keys, successor, now=now, report=report)
    return published_for < settings.jwks_max_age


def _remove_any_state(key: SigningKey) -> bool:
    # Whatever state the steps above left it in (retired, normally).
    db.session.refresh(key)
    return _remove(key)

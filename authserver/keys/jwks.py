"""The JWKS document (RFC 7517 §5): every next, active and retired public key.

The body is built once per key set and served as bytes. A key set is named by its kids: a kid's
key never changes, so the same kids always give the same document. Whether the kids are still
the same is asked of the database at most every few seconds per process (DESIGN.md: key sets
are "cached only with a short TTL"); a query per request cost about half of the endpoint's time
(BENCHMARKS.md). A change made by this process is seen at once (:meth:`JwksCache.forget`).

While the database is away, the last document built keeps being served (issue 10: JWKS and
discovery answer 200 through a PostgreSQL outage; docs/deploy.md): verifiers that cannot fetch
keys reject every token, so a key set a few seconds or minutes old is far better than none. Its
``Age`` keeps growing, so a cache that honours it does not keep the set past ``jwks_max_age``
after the database last confirmed it (the exception DESIGN.md's "short TTL" leaves room for).
Each gunicorn worker builds the document as it starts (:func:`build_before_serving`), so a
worker no request had asked for it yet has one to serve too.

A document may thus be up to a few seconds behind the database. The ``Age`` header says by how
much (RFC 9111 §5.1), so an HTTP cache still drops it ``jwks_max_age`` after the database last
confirmed it, and a next key, created ``jwks_max_age`` before it is used, is known to every
verifier that honours the headers by the time it signs anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import database_unavailability, is_database_outage
from authserver.extensions import db, discard_failed_transaction
from authserver.keys.algorithms import PUBLIC_JWK_MEMBERS
from authserver.models.keys import SigningKey

log = logging.getLogger(__name__)

CACHE_EXTENSION = "authserver.keys.jwks"
# At most this long between two checks of the key set; never more than a tenth of the time
# verifiers are told to cache the document for.
RECHECK_SECONDS = 5.0
# The longest a starting worker waits for the key set (build_before_serving).
BUILD_BEFORE_SERVING_SECONDS = 2.0


@dataclass(frozen=True)
class JwksDocument:
    kids: tuple[str, ...]
    body: bytes
    etag: str  # strong: the same bytes always have the same tag


class JwksCache:
    """The last document built in this process, and when the database last confirmed it."""

    def __init__(
        self,
        *,
        jwks_max_age: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recheck_seconds = min(RECHECK_SECONDS, jwks_max_age / 10)
        self.clock = clock
        self.document: JwksDocument | None = None
        self.checked_at = 0.0

    def forget(self) -> None:
        """After this process changed the keys itself, it need not wait for the next check."""
        self.document = None

    def fresh_body(self) -> bytes | None:
        """The document's bytes while no check of the key set is due, else None."""
        document = self.document
        if document is None or self.clock() - self.checked_at >= self.recheck_seconds:
            return None
        return document.body

    def age_seconds(self) -> int:
        """Whole seconds (rounded up) since the database last confirmed the document."""
        return math.ceil(max(0.0, self.clock() - self.checked_at))


def jwks_cache(app: Flask | None = None) -> JwksCache:
    cache: JwksCache = (app or current_app).extensions[CACHE_EXTENSION]
    return cache


def current_jwks() -> JwksDocument:
    cache = jwks_cache()
    now = cache.clock()
    if cache.document is not None and now - cache.checked_at < cache.recheck_seconds:
        return cache.document
    try:
        if cache.document is None or cache.document.kids != _published_kids():
            cache.document = _build()
    except SQLAlchemyError as exc:
        if cache.document is None or database_unavailability(exc) is None:
            raise
        discard_failed_transaction()
        return cache.document  # unconfirmed: checked_at stays, so Age tells how long
    cache.checked_at = now
    return cache.document


def build_before_serving(app: Flask) -> bool:
    """Build ``app``'s document now, so that an outage before the first JWKS request still finds
    one in memory; returns whether it did. With the database away (or slow) already, the first
    request that finds it back does it.

    Never raises, and waits at most ``BUILD_BEFORE_SERVING_SECONDS`` for the query: it runs in
    gunicorn's ``post_worker_init``, where an exception fails the worker's boot, which halts the
    whole server, and a wait holds the worker out of serving (a migration's lock on the keys,
    a stalled server) until gunicorn's timeout kills it and the next one waits again.
    """
    try:
        with app.app_context():
            try:
                _limit_statement_time(BUILD_BEFORE_SERVING_SECONDS)
                current_jwks()
                return True
            except SQLAlchemyError as exc:
                discard_failed_transaction()
                if not is_database_outage(exc):  # an outage is logged once, by outages.py
                    log.warning("JWKS not built before serving: %s", type(exc).__name__)
                return False
    except Exception:  # building early is a convenience, never a reason not to serve
        log.warning("JWKS not built before serving", exc_info=True)
        return False


def _limit_statement_time(seconds: float) -> None:
    """On PostgreSQL, for the rest of this transaction only (SET LOCAL: the pooled connection
    goes back without it); SQLite's waits are bounded by its busy timeout already."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))


# Every stored key is published: next (before use), active, retired (until its tokens expire).
_ORDER = (SigningKey.created_at, SigningKey.kid)


def _published_kids() -> tuple[str, ...]:
    return tuple(db.session.scalars(select(SigningKey.kid).order_by(*_ORDER)))


def _build() -> JwksDocument:
    rows = db.session.execute(select(SigningKey.kid, SigningKey.public_jwk).order_by(*_ORDER))
    published = [(kid, jwk) for kid, jwk in rows]
    keys = [_public_only(jwk) for _kid, jwk in published]
    body = json.dumps({"keys": keys}, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return JwksDocument(
        kids=tuple(kid for kid, _jwk in published),
        body=body,
        etag=hashlib.sha256(body).hexdigest()[:32],
    )


def _public_only(jwk: dict[str, str]) -> dict[str, str]:
    # Stored JWKs hold public members only; filtering again means a bug elsewhere can never
    # publish a private parameter.
    return {name: value for name, value in jwk.items() if name in PUBLIC_JWK_MEMBERS}

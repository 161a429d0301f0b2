"""The issuer's signing keys: discovered, fetched, cached, refetched when a new kid appears.

The JWKS is found through the issuer's discovery document and kept for as long as its
``Cache-Control: max-age`` (less its ``Age``, RFC 9111 §4.2.3) says, within configured bounds.
The server publishes a new key a whole max-age before it signs with it, so a cache that honours
the header knows every kid in time; a key replaced at once (after a compromise) shows up as an
unknown kid, and that triggers a refetch.

Refetches, for whatever reason, happen at most once per ``refetch_interval_seconds``: a stream
of tokens with made-up kids then costs the issuer one request per interval, not one per token.
When a refetch fails, the last set is used for ``stale_if_error_seconds`` more, so a short
outage of the issuer does not stop every service.

The set in use is one immutable snapshot, swapped whole, so the hot path (a cached kid) takes
no lock; fetching is serialised by a lock, and a thread that waited for another's fetch uses
its result rather than fetching again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from authserver_verifier.errors import ConfigurationError, InvalidToken, VerifierUnavailable
from authserver_verifier.http import FetchFailed, check_url, get_json
from authserver_verifier.jwk import UnusableKey, public_key_for

DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class CachePolicy:
    """Bounds on how long a JWKS is kept, and how often the issuer may be asked again."""

    min_cache_seconds: float = 60.0
    # A key the issuer removed (after a compromise) is dropped within this long at the latest.
    max_cache_seconds: float = 3600.0
    refetch_interval_seconds: float = 10.0
    stale_if_error_seconds: float = 300.0
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.min_cache_seconds <= self.max_cache_seconds:
            raise ConfigurationError("need 0 < min_cache_seconds <= max_cache_seconds")
        if self.refetch_interval_seconds <= 0 or self.timeout_seconds <= 0:
            raise ConfigurationError("refetch_interval_seconds and timeout_seconds must be > 0")
        if self.stale_if_error_seconds < 0:
            raise ConfigurationError("stale_if_error_seconds must be >= 0")

    def lifetime(self, headers: Message) -> float:
        """Seconds a JWKS answer stays fresh: its max-age less its Age, within the bounds."""
        max_age = _max_age(headers.get("Cache-Control", ""))
        if max_age is None:
            return self.min_cache_seconds
        age = headers.get("Age", "").strip()
        remaining = max_age - (int(age) if age.isdigit() else 0)
        return min(max(float(remaining), self.min_cache_seconds), self.max_cache_seconds)


def _max_age(cache_control: str) -> int | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age" and value.strip().strip('"').isdigit():
            return int(value.strip().strip('"'))
    return None


@dataclass(frozen=True)
class _KeySet:
    jwks: Mapping[str, Mapping[str, Any]]  # by kid; Any: JSON values
    fresh_until: float
    usable_until: float  # fresh_until plus the stale-if-error allowance
    # Keys made ready per (kid, alg), filled as tokens need them. Dict item assignment is atomic
    # in CPython, so concurrent fills at worst build the same key twice.
    ready: dict[tuple[str, str], Any] = field(default_factory=dict)  # Any: cryptography keys


class IssuerKeys:
    """Discovery and the JWKS of one issuer. ``fetch_count``: JWKS fetches attempted so far."""

    def __init__(
        self,
        issuer: str,
        *,
        policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = check_url(issuer, what="issuer")
        self.policy = policy or CachePolicy()
        self._clock = clock
        self._lock = threading.RLock()
        self._discovery: dict[str, Any] | None = None  # Any: JSON values
        self._set: _KeySet | None = None
        self._last_attempt_at: float | None = None
        self.fetch_count = 0

    def key(self, kid: str, alg: str) -> Any:  # Any: a cryptography public key
        """The key to check a signature by ``kid`` with ``alg``; InvalidToken if there is none."""
        current = self._set
        now = self._clock()
        if current is None or now >= current.fresh_until or kid not in current.jwks:
            current = self._refresh(seen=current)
        jwk = current.jwks.get(kid)
        if jwk is None:
            raise InvalidToken("unknown_kid")
        ready = current.ready.get((kid, alg))
        if ready is None:
            try:
                ready = public_key_for(jwk, alg)
            except UnusableKey:
                raise InvalidToken("key_does_not_fit_alg") from None
            current.ready[(kid, alg)] = ready
        return ready

    def discovery(self) -> dict[str, Any]:  # Any: JSON values
        """The issuer's discovery document, fetched once (and again after a failed JWKS fetch)."""
        document = self._discovery
        if document is not None:
            return document
        with self._lock:
            if self._discovery is None:
                try:
                    self._discovery = self._fetch_discovery()
                except FetchFailed:
                    raise VerifierUnavailable("discovery_unavailable") from None
            return self._discovery

    def _refresh(self, *, seen: _KeySet | None) -> _KeySet:
        with self._lock:
            current = self._set
            if current is not seen and current is not None:
                return current  # another thread fetched while this one waited
            now = self._clock()
            last = self._last_attempt_at
            if last is not None and now - last < self.policy.refetch_interval_seconds:
                return self._usable(current, now)
            self._last_attempt_at = now
            try:
                self._set = self._fetch_keys(now)
            except FetchFailed:
                self._discovery = None  # the jwks_uri may have moved: discover again next time
                return self._usable(current, now)
            return self._set

    def _usable(self, current: _KeySet | None, now: float) -> _KeySet:
        if current is None or now >= current.usable_until:
            raise VerifierUnavailable("jwks_unavailable")
        return current

    def _fetch_keys(self, now: float) -> _KeySet:
        jwks_uri = self._jwks_uri()
        self.fetch_count += 1
        answer = get_json(jwks_uri, timeout_seconds=self.policy.timeout_seconds)
        keys = answer.document.get("keys")
        if not isinstance(keys, list):
            raise FetchFailed("JWKS without a keys array")
        by_kid: dict[str, Mapping[str, Any]] = {}
        for jwk in keys:
            # Keys without a kid cannot be chosen by a token's header; a repeated kid would be
            # ambiguous, so the first one is kept, as the issuer listed it.
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
                by_kid.setdefault(jwk["kid"], jwk)
        lifetime = self.policy.lifetime(answer.headers)
        return _KeySet(
            jwks=by_kid,
            fresh_until=now + lifetime,
            usable_until=now + lifetime + self.policy.stale_if_error_seconds,
        )

    def _jwks_uri(self) -> str:
        if self._discovery is None:
            self._discovery = self._fetch_discovery()
        return str(self._discovery["jwks_uri"])

    def _fetch_discovery(self) -> dict[str, Any]:  # Any: JSON values
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        document = get_json(url, timeout_seconds=self.policy.timeout_seconds).document
        # OpenID Connect Discovery 1.0 §4.3 (and RFC 8414 §3.3): the issuer in the document MUST
        # be exactly the one it was fetched for, or it is not used.
        if document.get("issuer") != self.issuer:
            raise FetchFailed("discovery names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchFailed("discovery has no jwks_uri")
        try:
            check_url(jwks_uri, what="jwks_uri")
        except ConfigurationError:
            raise FetchFailed("jwks_uri is not https") from None
        return document

"""Ready-to-sign keys and the per-process memory that keeps the signing path cheap.

Two things are remembered, with different rules:

- the parsed private key for a kid, for as long as that kid is the one in use: a kid's key never
  changes, so this can never be stale, and it spares a decryption and a DER parse per token;
- which kid is active for an algorithm, for a few seconds only. That is safe: a key is published
  for the whole JWKS cache lifetime before it becomes active, and stays published (retired) after
  it is replaced, so a process that signs a few seconds longer with the old key, or that started
  using the new one a few seconds earlier than a peer, still produces tokens every verifier
  accepts. The database stays the one place all instances agree on.

Plain dict reads and writes are atomic in CPython, so threads can share this without a lock; the
worst a race can do is load the same key twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from authserver.keys.algorithms import PrivateKey, sign
from authserver.models.keys import SigningAlg

ACTIVE_KID_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class SigningKeyHandle:
    """A key ready to sign with. ``key`` is left out of ``repr`` so it cannot end up in a log."""

    kid: str
    alg: SigningAlg
    key: PrivateKey = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        return sign(self.key, data)


class SigningKeyCache:
    def __init__(
        self,
        *,
        active_ttl_seconds: float = ACTIVE_KID_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._active_ttl_seconds = active_ttl_seconds
        self._clock = clock
        self._active: dict[SigningAlg, tuple[str, float]] = {}
        # One handle per algorithm: only the active key signs, so older ones can be dropped.
        self._handles: dict[SigningAlg, SigningKeyHandle] = {}

    def find_active_kid(self, alg: SigningAlg) -> str | None:
        remembered = self._active.get(alg)
        if remembered is None or self._clock() >= remembered[1]:
            return None
        return remembered[0]

    def remember_active_kid(self, alg: SigningAlg, kid: str) -> None:
        self._active[alg] = (kid, self._clock() + self._active_ttl_seconds)

    def forget_active_kids(self) -> None:
        """After this process changed the keys itself, it need not wait for the TTL."""
        self._active.clear()

    def find_handle(self, alg: SigningAlg, kid: str) -> SigningKeyHandle | None:
        handle = self._handles.get(alg)
        return handle if handle is not None and handle.kid == kid else None

    def remember_handle(self, handle: SigningKeyHandle) -> None:
        self._handles[handle.alg] = handle

"""Where spent DPoP ``jti`` values are kept for as long as their proofs could be replayed.

RFC 9449 §11.1: a resource server keeps the jti of every accepted proof for the time it would
accept the proof, and refuses a second use. The memory store does that for one process; services
run as several instances share a store, e.g. :class:`RedisReplayStore`, so a proof replayed to
another instance is refused too.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class ReplayStoreFailed(Exception):
    """The store could not say whether a key was new (the kit then refuses the request)."""


class ReplayStore(Protocol):
    def add(self, key: str, *, ttl_seconds: int) -> bool:
        """Remember ``key`` for ``ttl_seconds``: True if it was new, False if already there.

        Must be atomic across everyone sharing the store; raise ReplayStoreFailed when unsure.
        """


class MemoryReplayStore:
    """One process's store: a dict of expiry times, pruned as entries expire."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []  # a heap of (expires_at, key)

    def add(self, key: str, *, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            self._prune(now)
            if key in self._expiry:
                return False
            expires_at = now + ttl_seconds
            self._expiry[key] = expires_at
            heapq.heappush(self._queue, (expires_at, key))
            return True

    def __len__(self) -> int:
        return len(self._expiry)

    def _prune(self, now: float) -> None:
        # Amortised: every entry is pushed once and popped once.
        while self._queue and self._queue[0][0] <= now:
            _, key = heapq.heappop(self._queue)
            del self._expiry[key]


class RedisReplayStore:
    """A store shared through Redis (or anything with redis-py's ``set(..., nx=, ex=)``).

    ``SET key 1 NX EX ttl`` is one atomic command, so two instances given the same proof at the
    same moment cannot both see it as new. Any error from the client fails closed.
    """

    def __init__(self, client: Any, *, prefix: str = "authserver-verifier:dpop-jti:") -> None:
        # Any: a redis-py client, or any object whose set() takes the same arguments; typing it
        # would make redis a dependency of the kit.
        self._client = client
        self._prefix = prefix

    def add(self, key: str, *, ttl_seconds: int) -> bool:
        try:
            stored = self._client.set(self._prefix + key, b"1", nx=True, ex=ttl_seconds)
        except Exception as error:  # any client error: the answer is unknown, so fail closed
            raise ReplayStoreFailed(type(error).__name__) from None
        return bool(stored)

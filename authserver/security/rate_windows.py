"""Moving-window counters for the rate limits: in this process, or in Redis with a fallback.

rate_limits.py decides *what* is counted; this module counts. It replaced Flask-Limiter's
route machinery, which cost about 0.2 ms per token request (resolving limits per request,
building its context objects), and `limits`' in-memory storage, which starts a timer thread
every few requests and copies or shifts a list as long as the limit on every hit (tens of
thousands of entries at bench rates). The semantics are those of Flask-Limiter's
``moving-window`` strategy, which this replaced:

- a window admits ``amount`` requests in any span of ``expiry`` seconds (no burst of twice the
  limit across a boundary), and knows exactly when its oldest request leaves it (Retry-After);
- the Redis keys are the ones Flask-Limiter used (``LIMITER/<key>/<scope>/<amount>/...`` under
  the configured prefix), counted by `limits`' own Redis scripts;
- when Redis fails, counting goes on in this process's memory with the same limits, and Redis
  is tried again after 1, 2, 4 ... seconds (Flask-Limiter's back-off) until it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItem
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

log = logging.getLogger(__name__)

# Forgotten windows (addresses that went quiet) are swept at most this often.
SWEEP_INTERVAL_SECONDS = 60.0
MAX_BACKEND_CHECKS = 5  # back-off cap between Redis checks: 2**5 = 32 s, as Flask-Limiter


class Windows(Protocol):
    """What a counting backend does: `limits`' strategy interface, moving window."""

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


class LocalWindows:
    """Moving windows in this process: a deque of request times per key.

    A hit drops the times that left the window from the front and appends to the back, so it
    costs O(1) amortised whatever the limit. One lock: gthread workers share the counters.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # time.time, not monotonic: Retry-After is computed against the wall clock, and tests
        # move it (time-machine) to let a window pass.
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._expiry: dict[str, int] = {}  # each key's window length, for the sweep
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def _window(
        self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
    ) -> deque[float]:
        key = item.key_for(*identifiers)
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            self._expiry[key] = item.get_expiry()
        horizon = now - item.get_expiry()
        while events and events[0] <= horizon:
            events.popleft()
        return events

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            events = self._window(item, identifiers, now)
            if len(events) + cost > item.amount:
                return False
            events.extend([now] * cost)
            return True

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        now = self._clock()
        with self._lock:
            return len(self._window(item, identifiers, now)) + cost <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        now = self._clock()
        with self._lock:
            events = self._window(item, identifiers, now)
            start = events[0] if events else now
            return WindowStats(start + item.get_expiry(), max(0, item.amount - len(events)))

    def _sweep(self, now: float) -> None:
        """Drop windows whose every request has expired, so memory follows recent traffic."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        stale = [
            key
            for key, events in self._events.items()
            if not events or events[-1] <= now - self._expiry[key]
        ]
        for key in stale:
            del self._events[key], self._expiry[key]


class SharedWindows:
    """Windows in Redis (every instance counts together), failing over to this process.

    ``is_degraded`` is true while Redis is unreachable; the caller notices the change and
    reports it (log line, metric).
    """

    def __init__(self, uri: str, options: dict[str, str | int]) -> None:
        storage = storage_from_string(uri, **options)
        assert isinstance(storage, Storage)  # a redis:// URI gives the synchronous storage
        self._storage = storage
        self._shared = MovingWindowRateLimiter(self._storage)
        self._local = LocalWindows()
        self.is_degraded = False
        self._checks = 0
        self._last_check = 0.0

    def _current(self) -> Windows:
        if self.is_degraded and self._should_check() and self._is_storage_back():
            log.info("rate-limit storage recovered")
            self.is_degraded, self._checks = False, 0
        return self._local if self.is_degraded else self._shared

    def _should_check(self) -> bool:
        if self._checks > MAX_BACKEND_CHECKS:
            self._checks = 0
        if time.time() - self._last_check > 2**self._checks:
            self._last_check = time.time()
            self._checks += 1
            return True
        return False

    def _is_storage_back(self) -> bool:
        try:
            return bool(self._storage.check())
        except Exception:  # any failure of the check means "not yet"
            return False

    def _call(self, operation: Callable[[Windows], bool | WindowStats]) -> bool | WindowStats:
        windows = self._current()
        try:
            return operation(windows)
        except Exception:  # redis-py's and limits' errors alike: Redis is not answering
            if windows is self._local:
                raise
            self.is_degraded = True
            return operation(self._local)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call(lambda windows: windows.hit(item, *identifiers, cost=cost)))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call(lambda windows: windows.test(item, *identifiers, cost=cost)))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        stats = self._call(lambda windows: windows.get_window_stats(item, *identifiers))
        assert isinstance(stats, WindowStats)
        return stats

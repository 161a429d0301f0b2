"""Moving-window counters for the rate limits: in this process, or in Redis with a fallback.

limits.py decides *what* is counted; this module counts. It replaced Flask-Limiter's
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
  is probed again every RECHECK_SECONDS until it answers; then counting is shared again.
  ``/readyz`` asks for a probe too (:meth:`SharedWindows.refresh`), so it reports a Redis that
  went away while no limited request came, without ever waiting for Redis itself.

Flask-Limiter's back-off (1, 2, 4 ... 32 s between checks) is not kept: after a long outage it
left the instances counting apart for up to half a minute after Redis was back, and the
shared counts must be back within 5 s. It existed because its check ran inside a request,
which a Redis that drops packets would stall for the whole connect timeout. Here the probe
runs in a thread of its own, one at a time, so requests never wait for it and probing every
second costs one PING (or one timed-out connect) a second per process.
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
# While Redis is unreachable it is probed this often: with a probe that times out after at most
# REDIS_TIMEOUT_SECONDS (1 s), counting is shared again within about 2 s of Redis answering.
RECHECK_SECONDS = 1.0


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


# Told of each switch: True and a short reason when counting falls back to this process, False
# and "" when it is shared again. Called from a request or from the probe's thread.
OnChange = Callable[[bool, str], None]


class SharedWindows:
    """Windows in Redis (every instance counts together), failing over to this process.

    ``is_degraded`` is true while Redis is unreachable; ``on_change`` hears of each switch.
    """

    def __init__(
        self, uri: str, options: dict[str, str | int], *, on_change: OnChange | None = None
    ) -> None:
        storage = storage_from_string(uri, **options)
        assert isinstance(storage, Storage)  # a redis:// URI gives the synchronous storage
        self._storage = storage
        self._shared = MovingWindowRateLimiter(self._storage)
        self._local = LocalWindows()
        self._on_change = on_change
        self._lock = threading.Lock()
        self.is_degraded = False
        self._switches = 0  # a probe's answer is dropped if a request switched meanwhile
        self._is_probing = False
        self._next_probe = 0.0  # time.monotonic(): a clock moved by tests must not stop probes

    def _current(self) -> Windows:
        if self.is_degraded:
            self.refresh()
            return self._local
        return self._shared

    def refresh(self) -> None:
        """Probe Redis in the background if no probe ran for RECHECK_SECONDS; never waits."""
        now = time.monotonic()
        with self._lock:
            if self._is_probing or now < self._next_probe:
                return
            self._is_probing, self._next_probe = True, now + RECHECK_SECONDS
            switches = self._switches
        probe = threading.Thread(
            target=self._probe, args=(switches,), name="rate-limit-redis-probe", daemon=True
        )
        probe.start()

    def _probe(self, switches: int) -> None:
        try:
            answers = bool(self._storage.check())  # limits' check answers False on any error
        except Exception:  # whatever the check raises means "no answer"
            answers = False
        finally:
            with self._lock:
                self._is_probing = False
        reason = "" if answers else "no answer to PING"
        self._switch(degraded=not answers, reason=reason, unless_switched_since=switches)

    def _switch(
        self, *, degraded: bool, reason: str, unless_switched_since: int | None = None
    ) -> None:
        with self._lock:
            if self.is_degraded == degraded:
                return
            # A probe that began before a request's failure (or a recovery) is out of date.
            if unless_switched_since not in (None, self._switches):
                return
            self.is_degraded = degraded
            self._switches += 1
        if self._on_change is not None:
            self._on_change(degraded, reason)

    def _call(self, operation: Callable[[Windows], bool | WindowStats]) -> bool | WindowStats:
        windows = self._current()
        try:
            return operation(windows)
        except Exception as exc:  # redis-py's and limits' errors alike: Redis is not answering
            if windows is self._local:
                raise
            self._switch(degraded=True, reason=type(exc).__name__)
            return operation(self._local)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call(lambda windows: windows.hit(item, *identifiers, cost=cost)))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call(lambda windows: windows.test(item, *identifiers, cost=cost)))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        stats = self._call(lambda windows: windows.get_window_stats(item, *identifiers))
        assert isinstance(stats, WindowStats)
        return stats

"""Dependency outages: what a request raises when one is away, and the one log line per change.

When the database (or another dependency) stops answering, every request that needs it fails
the same way, and a log line per request with a traceback per line buries the one fact an
operator needs. So each process writes one WARNING when a dependency stops answering and one
INFO when it answers again (with the process id: each process sees the outage for itself);
the failed requests in between write only their usual request line, with status 503.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app

log = logging.getLogger(__name__)

EXTENSION = "authserver.outages"
DATABASE = "database"


class DependencyUnavailable(Exception):
    """A dependency cannot serve this request now: the answer is 503 with Retry-After.

    ``reason`` is short and safe to log (never a host name or a credential); clients never see
    it."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


@dataclass(frozen=True)
class _Outage:
    reason: str
    started_at: float  # monotonic


class OutageLog:
    """Which dependencies this process currently finds away, logging each change once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outages: dict[str, _Outage] = {}

    def is_down(self, dependency: str) -> bool:
        return dependency in self._outages

    def failed(self, dependency: str, reason: str) -> None:
        """The dependency did not answer; the first failure of an outage is logged."""
        with self._lock:
            if dependency in self._outages:
                return
            self._outages[dependency] = _Outage(reason, time.monotonic())
        log.warning(
            "%s unavailable: %s; answering 503 until it is back",
            dependency,
            reason,
            extra={"dependency": dependency, "reason": reason, "pid": os.getpid()},
        )

    def answered(self, dependency: str) -> None:
        """The dependency answered; if this ends an outage, say so once."""
        if dependency not in self._outages:  # the hot path: no lock while all is well
            return
        with self._lock:
            outage = self._outages.pop(dependency, None)
        if outage is None:
            return  # another thread logged the end already
        seconds = round(time.monotonic() - outage.started_at, 1)
        log.info(
            "%s answers again after %s s",
            dependency,
            seconds,
            extra={"dependency": dependency, "outage_seconds": seconds, "pid": os.getpid()},
        )


def outage_log(app: Flask | None = None) -> OutageLog:
    found: OutageLog = (app or current_app).extensions[EXTENSION]
    return found


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = OutageLog()

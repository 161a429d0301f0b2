"""Whether Redis answers, as this process last found it, logged once per change.

Redis is optional (DESIGN.md): while it is unreachable the rate limits count in this process
(security/rate_windows.py) and ``/readyz`` names it, and nothing else changes. Every part that
calls Redis reports what it found here, so an outage gives one WARNING per process when it
begins and one INFO when it ends, whichever part noticed first, and never a line per request
or a traceback: the reason is the error's type alone.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)

EXTENSION = "authserver.redis_status"


class RedisStatus:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # reports come from request threads and the probe
        self.is_answering = True

    def report_failure(self, reason: str) -> None:
        if self._change(answering=False):
            log.warning(
                "Redis unreachable (%s): rate limits are counted in this process until it "
                "answers again",
                reason,
            )

    def report_success(self) -> None:
        if self._change(answering=True):
            log.info("Redis answers again: rate limits are shared again")

    def _change(self, *, answering: bool) -> bool:
        with self._lock:
            changed = self.is_answering != answering
            self.is_answering = answering
        return changed


def redis_status(app: Flask) -> RedisStatus:
    """The app's status, made on first use (the rate limits and the probes share it)."""
    status: RedisStatus = app.extensions.setdefault(EXTENSION, RedisStatus())
    return status

"""Bounded waits for PostgreSQL, and failing fast while it is away.

Issue 10, "PostgreSQL restart or failover": every request answers within 2 s, and recovery
needs no restart.

- **Dead pooled connections** are found by ``pool_pre_ping`` at checkout and replaced; after a
  restart the first failed ping also drops every older connection of the pool.
- **A new connection** is made in a thread of its own, and the request waits for it at most
  ``CONNECT_BUDGET_SECONDS``. psycopg will not time a connection out in under 2 s (it follows
  libpq's minimum), which with the rest of a request is past the budget; so a connection that
  is late is abandoned to its thread (closed if it ever arrives), and the request answers 503.
- **While the database is away** (a lost connection or a failed attempt says so), a
  request does not try to connect at all: it answers 503 at once. One request per process per
  ``PROBE_INTERVAL_SECONDS`` tries a connection, and the first that succeeds (a new connection
  or a pooled one that passes its ping) ends the outage.
- **A connection whose peer vanished** (a failover, a partition) would wait for the kernel's
  retransmissions, about 15 minutes: ``tcp_user_timeout`` ends it within 1.5 s of unanswered
  data. (A server process that is stopped while its host still acknowledges packets is beyond
  what the client can see: the worker's own timeout ends such a request.)
- **A full pool** (every connection busy) makes a request wait at most ``POOL_TIMEOUT_SECONDS``.

All of it is per process and per engine; SQLite, a local file, needs none of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Dialect, ExceptionContext

from authserver.database_faults import DatabaseUnavailable, driver_unavailability
from authserver.outages import DATABASE, OutageLog


def is_gevent_worker() -> bool:
    # Imported when first asked: serving/ imports observability/, which imports this module.
    from authserver.serving.request_deadline import is_gevent_worker

    return is_gevent_worker()


# The longest a request waits for a new connection; with the rest of its work it stays within
# the 2 s issue 10 allows a request that cannot be served.
CONNECT_BUDGET_SECONDS = 1.5
# psycopg's (and libpq's) smallest connect timeout: it ends the abandoned attempt's thread.
DRIVER_CONNECT_TIMEOUT_SECONDS = 2
# Unacknowledged data for this long means the peer is gone (Linux TCP_USER_TIMEOUT, via libpq).
TCP_USER_TIMEOUT_MS = 1500
# How often each process tries the database again while it is away.
PROBE_INTERVAL_SECONDS = 1.0
# How long a request waits for a pooled connection when every one is in use.
POOL_TIMEOUT_SECONDS = 1.0


def engine_options(url: str) -> dict[str, Any]:  # Any: create_engine's keyword arguments
    """Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS for the database at ``url``."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["pool_timeout"] = POOL_TIMEOUT_SECONDS
    return options


def _os_lock() -> Any:  # Any: a lock of the operating system's threads
    """A lock both an operating-system thread and the request (perhaps a greenlet) may hold."""
    if is_gevent_worker():
        from gevent.monkey import get_original  # type: ignore[import-untyped]

        return get_original("_thread", "allocate_lock")()
    return threading.Lock()


def _start_in_os_thread(function: Callable[[], None]) -> Callable[[float], object]:
    """Run ``function`` in a thread of the operating system; return how to wait for it.

    Under gevent a ``threading.Thread`` is a greenlet, and psycopg's connect does not yield to
    the event loop: the request would wait for libpq's 2 s, not our budget. gevent's thread
    pool runs it in a real thread, and waiting on its result pauses only this greenlet.
    """
    if is_gevent_worker():
        from gevent import get_hub  # type: ignore[import-untyped]

        result = get_hub().threadpool.spawn(function)
        return lambda seconds: result.wait(seconds)
    thread = threading.Thread(target=function, name="database-connect", daemon=True)
    thread.start()
    return thread.join


class _Attempt:
    """One connection attempt in its own thread; the connection is closed if nobody takes it."""

    # Any: SQLAlchemy hands the driver's connect() arguments over untyped.
    def __init__(
        self, dialect: Dialect, cargs: Any, cparams: Any, finished: Callable[[], None]
    ) -> None:
        self._dialect, self._cargs, self._cparams = dialect, cargs, cparams
        self._finished = finished  # called in the thread when the attempt ends, either way
        self._lock = _os_lock()
        self._is_done = False
        self._abandoned = False
        self.connection: Any = None  # Any: the driver's connection
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection = self._dialect.connect(*self._cargs, **self._cparams)
        except BaseException as exc:  # handed to the waiting request, which raises it
            self.error = exc
            connection = None
        with self._lock:
            abandoned = self._abandoned
            self.connection = connection
            self._is_done = True
        if abandoned and connection is not None:
            connection.close()
        self._finished()

    def wait(self, seconds: float) -> bool:
        """Whether the attempt ended in time; if not, it is abandoned."""
        _start_in_os_thread(self.run)(seconds)
        with self._lock:
            if self._is_done:
                return True
            self._abandoned = True
            return False


class DatabaseGuard:
    def __init__(self, outages: OutageLog) -> None:
        self.outages = outages
        self._lock = threading.Lock()
        self._probe_in_flight = False
        self._next_probe_at = 0.0

    def connect(self, dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        """SQLAlchemy's do_connect: make the connection ourselves, within the budget."""
        cparams.setdefault("connect_timeout", DRIVER_CONNECT_TIMEOUT_SECONDS)
        cparams.setdefault("tcp_user_timeout", TCP_USER_TIMEOUT_MS)
        is_probe = self._admit()
        attempt = _Attempt(dialect, cargs, cparams, self._probe_done if is_probe else _nothing)
        if not attempt.wait(CONNECT_BUDGET_SECONDS):
            self._wait_before_next_probe()
            self.outages.failed(DATABASE, f"no connection within {CONNECT_BUDGET_SECONDS} s")
            raise DatabaseUnavailable("connection attempt timed out")
        if attempt.error is not None:
            self._wait_before_next_probe()
            raise attempt.error  # a driver error: SQLAlchemy wraps it and calls handle_error
        return attempt.connection

    def _admit(self) -> bool:
        """Let this connection attempt go ahead (True if it probes an outage), or fail fast."""
        if not self.outages.is_down(DATABASE):
            return False
        with self._lock:
            now = time.monotonic()
            if self._probe_in_flight or now < self._next_probe_at:
                raise DatabaseUnavailable("the database is away")
            self._probe_in_flight = True
            self._next_probe_at = now + PROBE_INTERVAL_SECONDS
        return True

    def _wait_before_next_probe(self) -> None:
        """After a failed attempt, the next waits a probe interval (also the first of an
        outage: without this, the request after it would wait out a whole budget again)."""
        with self._lock:
            self._next_probe_at = time.monotonic() + PROBE_INTERVAL_SECONDS

    def _probe_done(self) -> None:
        with self._lock:
            self._probe_in_flight = False

    def checked_out(self, *_args: Any) -> None:
        """A connection passed its ping, or was just made: the database answers."""
        self.outages.answered(DATABASE)

    def failed(self, context: ExceptionContext) -> None:
        """Every driver error passes here, connection attempts and pings included."""
        if context.is_pre_ping:
            # One dead pooled connection (a restart long over, an idle timeout, a firewall) is
            # no outage: the pool replaces it at once, and that attempt decides.
            return
        found = driver_unavailability(
            context.original_exception, is_disconnect=context.is_disconnect
        )
        if found is not None and found.is_outage:
            self.outages.failed(DATABASE, found.reason)


def _nothing() -> None:
    pass


def install(engine: Engine, outages: OutageLog) -> None:
    """Attach the guard to a PostgreSQL engine (SQLite needs none of it)."""
    if engine.dialect.name != "postgresql":
        return
    guard = DatabaseGuard(outages)
    event.listen(engine, "do_connect", guard.connect)
    event.listen(engine, "checkout", guard.checked_out)
    event.listen(engine, "handle_error", guard.failed)

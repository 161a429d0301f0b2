"""Which database errors mean "away or busy, try again" (503) and which mean a bug (500).

Two kinds of 503:

- an **outage**: the connection is lost or cannot be made (PostgreSQL restarting, failing over,
  unreachable). Each process logs its start and end once (authserver/outages.py) and fails fast
  in between (authserver/database_guard.py).
- **busy**: the database answers but cannot do this now (SQLite's lock held past its busy
  timeout, a full or failing disk; PostgreSQL's statement or lock timeout, too many
  connections, a serialization failure). Logged per request, without a traceback.

Anything else (a constraint violation, a missing table, bad SQL) is a bug and stays a 500.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import psycopg
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from authserver.outages import DATABASE, DependencyUnavailable

# PostgreSQL SQLSTATEs (Appendix A of its manual). Class 08: connection exception.
_OUTAGE_CLASSES = ("08",)
_OUTAGE_STATES = frozenset(
    {
        "57P01",  # admin_shutdown: the server is stopping (a restart, a failover)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up or shutting down
        "57P04",  # database_dropped
        "57P05",  # idle_session_timeout
    }
)
_BUSY_CLASSES = ("53",)  # insufficient resources: too many connections, out of memory or disk
_BUSY_STATES = frozenset(
    {
        "57014",  # query_canceled: statement_timeout
        "55P03",  # lock_not_available: lock_timeout
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
    }
)
# SQLite reports these as OperationalError text only.
_SQLITE_BUSY = (
    ("locked", "database locked"),
    ("busy", "database busy"),
    ("disk i/o", "disk I/O error"),
    ("disk is full", "disk full"),
    ("unable to open database file", "cannot open the database file"),
)  # not "readonly database": a file or mount set read-only is a mistake to fix, not to wait out


class DatabaseUnavailable(DependencyUnavailable, SQLAlchemyError):
    """No connection was even tried (the database is known to be away) or it took too long.

    Also an SQLAlchemyError, so that code which already tolerates a failed read (falling back,
    as the JWKS and the key rotation clock do) treats it like any other database error."""

    def __init__(self, reason: str) -> None:
        super().__init__(DATABASE, reason)


@dataclass(frozen=True)
class Unavailability:
    reason: str  # short, for the log: never the error text (it can hold host names)
    is_outage: bool


def database_unavailability(error: BaseException) -> Unavailability | None:
    """Why ``error`` means the database cannot serve this request now; None for a bug."""
    if isinstance(error, DependencyUnavailable):
        return Unavailability(error.reason, True) if error.dependency == DATABASE else None
    if isinstance(error, PoolTimeout):
        return Unavailability("no pooled connection free in time", False)
    if not isinstance(error, DBAPIError) or error.orig is None:
        return None
    return driver_unavailability(error.orig, is_disconnect=error.connection_invalidated)


def driver_unavailability(error: BaseException, *, is_disconnect: bool) -> Unavailability | None:
    """The same, for the driver's own exception (SQLAlchemy's handle_error event sees that)."""
    if is_disconnect:
        return Unavailability(f"connection lost ({type(error).__name__})", True)
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        for marker, reason in _SQLITE_BUSY:
            if marker in message:
                return Unavailability(reason, False)
        return None
    if not isinstance(error, psycopg.Error):
        return None
    state = error.sqlstate
    if state is None:
        # No SQLSTATE: the client library itself gave up (refused, timed out, closed).
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return Unavailability(f"no connection ({type(error).__name__})", True)
        return None
    if state.startswith(_OUTAGE_CLASSES) or state in _OUTAGE_STATES:
        return Unavailability(f"SQLSTATE {state}", True)
    if state.startswith(_BUSY_CLASSES) or state in _BUSY_STATES:
        return Unavailability(f"SQLSTATE {state}", False)
    return None


def is_database_outage(error: BaseException) -> bool:
    """For code that tolerates a failed read: an outage is logged once, elsewhere."""
    found = database_unavailability(error)
    return found is not None and found.is_outage

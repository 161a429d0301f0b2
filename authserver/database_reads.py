"""Hot reads with a Core statement in the request's transaction, without the ORM session layer.

The reads every machine request makes (the client of every token, introspection and revocation
request; an access token's deny-list, client and user state) are Core statements whose rows are
used as values, never as objects. ``Session.execute`` adds only cost to them: its ORM layer
(execution options, bind look-up, autoflush, result wrapping) was about a tenth of such a read.

``Session.connection()`` is the connection of the session's own transaction, begun here if need
be exactly as ``Session.execute`` would begin it. So the row is still read on every call (nothing
is cached), this request's transaction sees it as before, the same engine events run (the
outage handling of database_guard.py), and the same rollback or commit ends it. What is skipped
is autoflush: pending ORM changes are not written before the read, so use this only for rows
that no pending object of the request can have changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable

from authserver.extensions import db


def read_rows(
    statement: Executable,
    parameters: Mapping[str, Any],  # Any: bound parameter values of several types
) -> CursorResult[*tuple[Any, ...]]:  # Any: the statement decides the row's shape
    """Run ``statement`` in the request's transaction, without the ORM session layer."""
    return db.session.connection().execute(statement, parameters)

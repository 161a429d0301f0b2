"""RFC 9449 §11.1: each proof `jti` is accepted once per key, on every instance.

The store is the database (table ``dpop_proof_jtis``, unique on key thumbprint and jti), as
for RFC 7523 assertions (oauth/client_assertion.py): an INSERT that does nothing on conflict,
so of two instances racing with one proof exactly one inserts the row and wins. A row is kept
until its proof could no longer be fresh; `maintenance purge` deletes it after that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from authserver.extensions import db
from authserver.models.tokens import DPoPProofJti


def spend_jti(jkt: str, jti: str, *, expires_at: datetime) -> bool:
    """Record the jti for this key; False when it was recorded before (a replay)."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(DPoPProofJti)
        .values(jkt=jkt, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jkt", "jti"])
        # RETURNING, not rowcount: drivers report -1 rows for INSERT ... RETURNING.
        .returning(DPoPProofJti.id)
    )
    # Its own transaction, committed now: the jti is spent even when the rest of the request
    # fails, and userinfo commits nothing of its own.
    with db.engine.begin() as connection:
        return connection.execute(statement).first() is not None

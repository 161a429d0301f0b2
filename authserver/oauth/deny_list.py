"""The access-token deny list: revoked `jti`s and revoked grants, until the tokens expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.apis import Api
from authserver.models.clients import Client
from authserver.models.tokens import RevokedAccessToken

JTI = "jti"
GRANT = "grant"


def longest_access_token_lifetime() -> int:
    """The longest any access token can live: a grant's deny-list row must outlive them all."""
    settings = current_settings()
    # Clients and APIs may both set a lifetime of their own (an API's wins for its tokens).
    overrides = db.session.execute(
        select(
            select(func.max(Client.access_token_ttl)).scalar_subquery(),
            select(func.max(Api.access_token_ttl)).scalar_subquery(),
        )
    ).one()
    return max(settings.access_token_ttl, *(value or 0 for value in overrides))


def deny(kind: str, value: str, *, expires_at: datetime) -> None:
    """Add a row unless one exists already (revoking twice is not an error)."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(RevokedAccessToken)
        .values(
            kind=kind,
            value=value,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["kind", "value"])
    )


def deny_grant(grant_id: str, *, now: datetime) -> None:
    deny(GRANT, grant_id, expires_at=now + timedelta(seconds=longest_access_token_lifetime()))


# A token is denied when its own jti or its grant (`gid`) has a row. Bound parameters `jti` and
# `grant_id` (None for tokens without a grant: `value = NULL` matches nothing). An EXISTS, so
# callers can fold it into the one statement that checks everything else about the token.
IS_DENIED = exists().where(
    or_(
        and_(RevokedAccessToken.kind == JTI, RevokedAccessToken.value == bindparam("jti")),
        and_(RevokedAccessToken.kind == GRANT, RevokedAccessToken.value == bindparam("grant_id")),
    )
)

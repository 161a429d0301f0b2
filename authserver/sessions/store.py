"""The interface of the browser-session store (the database's: sessions/db_store.py).

A store keeps records and finds them by the hash of the cookie's token. It makes no decisions:
expiry, revocation and the user's state are judged in :mod:`authserver.sessions.service`.
Stores never commit; the service's unit of work does. The contract tests
(tests/sessions/test_store_contract.py) hold any store to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol


@dataclass(frozen=True)
class StoredSession:
    """One session as a store keeps it."""

    public_id: str
    user_id: int
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # absolute: no activity extends it
    revoked_at: datetime | None
    ip: str | None
    user_agent: str | None


class ListedSession(NamedTuple):
    """A session together with the key it is kept under (the hash of its token)."""

    token_hash: str
    session: StoredSession


class SessionStore(Protocol):
    def add(self, token_hash: str, session: StoredSession) -> None:
        """Keep a new session under ``token_hash``."""

    def renew(self, token_hash: str, new_token_hash: str, session: StoredSession) -> None:
        """Move the live session kept under ``token_hash`` to ``new_token_hash``, with the
        times and methods of ``session`` (its public id unchanged); a revoked one stays as it
        is. What relying parties were told about the session stays attached to it."""

    def find(self, token_hash: str) -> StoredSession | None:
        """The session kept under ``token_hash``, revoked ones included.

        A session past its absolute end may be returned or may already be forgotten (the
        maintenance purge deletes it); either way the service treats it as gone.
        """

    def touch(self, token_hash: str, *, seen_at: datetime) -> None:
        """Record activity (the idle timeout counts from ``last_seen_at``)."""

    def revoke(self, token_hash: str, *, revoked_at: datetime) -> None:
        """Mark the session revoked; a session already revoked keeps its first time."""

    def list_for_user(self, user_id: int, *, now: datetime) -> list[ListedSession]:
        """The user's sessions neither revoked nor past their absolute end, in no set order.

        Idle ones may be among them; the service decides which are live. ``now`` only bounds
        the answer: without it a user's long-expired sessions would pile up in every listing.
        """

    def revoke_all_for_user(self, user_id: int, *, revoked_at: datetime) -> int:
        """Revoke every session of the user not revoked yet; returns how many."""

    def list_all_for_user(self, user_id: int) -> list[StoredSession]:
        """Every session record still kept for the user, revoked and expired ones included.

        For the user's data export: everything stored about them, not only what is live.
        """

    def forget_all_for_user(self, user_id: int) -> int:
        """Delete every record of the user's sessions (account deletion); returns how many."""

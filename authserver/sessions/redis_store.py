"""Browser sessions in Redis: the store when AUTHSERVER_REDIS_URL is set.

Two kinds of key, under ``<AUTHSERVER_REDIS_KEY_PREFIX>session:``:

``s:<token hash>``
    a hash holding one session's fields. Its TTL is the session's absolute lifetime, so Redis
    forgets it by itself when the session could no longer be used anyway. Only the token's
    SHA-256 is ever written, never the token.
``u:<user id>``
    a set of the user's token hashes: the index the account page lists and "sign out
    everywhere" walks. Members whose session has expired are pruned when the set is listed;
    the set itself lives as long as the longest session in it.

Writes that must not resurrect an expired session (activity, revocation) run as small Lua
scripts that first check the key exists: a plain HSET on a vanished key would create a session
fragment with no TTL. Every Redis failure becomes :class:`SessionStoreUnavailable`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from authserver.sessions.errors import SessionStoreUnavailable
from authserver.sessions.store import ListedSession, StoredSession

log = logging.getLogger(__name__)

KEY_NAMESPACE = "session:"
MIN_TTL_MILLISECONDS = 1000

# KEYS: session key, user index. ARGV: ttl (ms), token hash, then field/value pairs.
_ADD = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1
"""
# KEYS: session key. ARGV: time. HSET keeps the key's TTL.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
end
return 0
"""
# KEYS: session key. ARGV: time. HSETNX keeps the first revocation time; returns 1 if it set it.
_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
end
return 0
"""


@contextmanager
def _unavailable_on_redis_error() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise SessionStoreUnavailable(f"Redis session store: {type(exc).__name__}") from exc


class RedisSessionStore:
    def __init__(self, client: Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix + KEY_NAMESPACE
        self._add = client.register_script(_ADD)
        self._touch = client.register_script(_TOUCH)
        self._revoke = client.register_script(_REVOKE)

    def add(self, token_hash: str, session: StoredSession) -> None:
        # The absolute lifetime, counted from creation: relative, so it does not depend on
        # the Redis server's clock agreeing with ours.
        lifetime = session.expires_at - session.created_at
        ttl_milliseconds = max(MIN_TTL_MILLISECONDS, int(lifetime.total_seconds() * 1000))
        fields = [item for pair in _encode(session).items() for item in pair]
        with _unavailable_on_redis_error():
            self._add(
                keys=[self._session_key(token_hash), self._user_key(session.user_id)],
                args=[ttl_milliseconds, token_hash, *fields],
            )

    def find(self, token_hash: str) -> StoredSession | None:
        with _unavailable_on_redis_error():
            raw = self._client.hgetall(self._session_key(token_hash))
        return _decode(raw)

    def touch(self, token_hash: str, *, seen_at: datetime) -> None:
        with _unavailable_on_redis_error():
            self._touch(keys=[self._session_key(token_hash)], args=[seen_at.isoformat()])

    def revoke(self, token_hash: str, *, revoked_at: datetime) -> None:
        with _unavailable_on_redis_error():
            self._revoke(keys=[self._session_key(token_hash)], args=[revoked_at.isoformat()])

    def list_for_user(self, user_id: int, *, now: datetime) -> list[ListedSession]:
        user_key = self._user_key(user_id)
        with _unavailable_on_redis_error():
            hashes = sorted(_text(member) for member in self._client.smembers(user_key))
            pipeline = self._client.pipeline(transaction=False)
            for token_hash in hashes:
                pipeline.hgetall(self._session_key(token_hash))
            records = pipeline.execute()
            gone = [token_hash for token_hash, raw in zip(hashes, records, strict=True) if not raw]
            if gone:
                self._client.srem(user_key, *gone)
        listed = (
            ListedSession(token_hash, session)
            for token_hash, raw in zip(hashes, records, strict=True)
            if (session := _decode(raw)) is not None
        )
        # Redis drops expired keys by its own clock; `now` (ours) decides the edge the same
        # way for both stores.
        return [
            entry
            for entry in listed
            if entry.session.revoked_at is None and now < entry.session.expires_at
        ]

    def revoke_all_for_user(self, user_id: int, *, revoked_at: datetime) -> int:
        with _unavailable_on_redis_error():
            hashes = [_text(member) for member in self._client.smembers(self._user_key(user_id))]
            pipeline = self._client.pipeline(transaction=False)
            for token_hash in hashes:
                self._revoke(
                    keys=[self._session_key(token_hash)],
                    args=[revoked_at.isoformat()],
                    client=pipeline,
                )
            return sum(int(changed) for changed in pipeline.execute())

    def list_all_for_user(self, user_id: int) -> list[StoredSession]:
        with _unavailable_on_redis_error():
            hashes = sorted(
                _text(member) for member in self._client.smembers(self._user_key(user_id))
            )
            pipeline = self._client.pipeline(transaction=False)
            for token_hash in hashes:
                pipeline.hgetall(self._session_key(token_hash))
            records = pipeline.execute()
        sessions = [session for raw in records if (session := _decode(raw)) is not None]
        return sorted(sessions, key=lambda session: (session.created_at, session.public_id))

    def forget_all_for_user(self, user_id: int) -> int:
        user_key = self._user_key(user_id)
        with _unavailable_on_redis_error():
            hashes = [_text(member) for member in self._client.smembers(user_key)]
            pipeline = self._client.pipeline(transaction=True)
            for token_hash in hashes:
                pipeline.delete(self._session_key(token_hash))
            pipeline.delete(user_key)
            deleted = pipeline.execute()
        # The last answer is the index key's own deletion.
        return sum(int(count) for count in deleted[:-1])

    def _session_key(self, token_hash: str) -> str:
        return f"{self._prefix}s:{token_hash}"

    def _user_key(self, user_id: int) -> str:
        return f"{self._prefix}u:{user_id}"


def _encode(session: StoredSession) -> dict[str, str]:
    """The hash fields: short strings; absent optional values are simply not written."""
    fields = {
        "public_id": session.public_id,
        "user_id": str(session.user_id),
        "auth_time": session.auth_time.isoformat(),
        "amr": json.dumps(list(session.amr)),
        "acr": session.acr,
        "created_at": session.created_at.isoformat(),
        "last_seen_at": session.last_seen_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "revoked_at": session.revoked_at.isoformat() if session.revoked_at else None,
        "ip": session.ip,
        "user_agent": session.user_agent,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _text(value: bytes | str) -> str:
    # The shared client returns bytes; a client made with decode_responses=True returns str.
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: Mapping[bytes | str, bytes | str]) -> StoredSession | None:
    """The session, or None for no record or one we cannot read (treated as no session)."""
    if not raw:
        return None
    try:
        return _parse({_text(name): _text(value) for name, value in raw.items()})
    except (KeyError, TypeError, ValueError):  # decoding errors are ValueErrors
        log.warning("unreadable session record in Redis; treated as no session")
        return None


def _parse(fields: dict[str, str]) -> StoredSession:
    revoked_at = fields.get("revoked_at")
    return StoredSession(
        public_id=fields["public_id"],
        user_id=int(fields["user_id"]),
        auth_time=datetime.fromisoformat(fields["auth_time"]),
        amr=tuple(json.loads(fields["amr"])),
        acr=fields["acr"],
        created_at=datetime.fromisoformat(fields["created_at"]),
        last_seen_at=datetime.fromisoformat(fields["last_seen_at"]),
        expires_at=datetime.fromisoformat(fields["expires_at"]),
        revoked_at=datetime.fromisoformat(revoked_at) if revoked_at else None,
        ip=fields.get("ip"),
        user_agent=fields.get("user_agent"),
    )

"""Server-side browser sessions: start one at sign-in, recognise it on later requests, end it.

The cookie carries a 256-bit random token; the store keeps only its SHA-256, so a leaked table
cannot be replayed as cookies. The session's ``public_id`` is what other parts see
(the ``sid`` claim, the account page). Rules, in the order :func:`current_session` applies them:
not revoked, within the absolute lifetime, not idle for too long, and the user neither disabled
nor "signed out everywhere" (``tokens_valid_after``) since the session began.

The store is the database (see the package's docstring for why Redis holds no sessions): a
session is only as available as the database, which every request that uses one needs anyway.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app, g, request

from authserver.backchannel.outbox import announce_ended_sessions
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail_language import remember_page_language
from authserver.models import User
from authserver.models.types import utcnow
from authserver.observability.request_log import note_request_party
from authserver.sessions.cookies import (
    clear_session_cookie,
    forget_cookie_change,
    read_session_token,
    set_session_cookie,
)
from authserver.sessions.store import SessionStore, StoredSession

# `acr` values (OIDC Core §2): what kind of sign-in produced the session. Relying parties may
# ask for one with `acr_values`; only these two exist.
ACR_PASSWORD = "urn:authserver:acr:pwd"
ACR_MFA = "urn:authserver:acr:mfa"  # a password and a second factor
# RFC 8176 §2 method names that mean a second factor was used: "otp" (a TOTP or recovery code)
# or "mfa" (several factors, named together).
SECOND_FACTOR_METHODS = frozenset({"otp", "mfa"})
TOKEN_BYTES = 32  # 256 bits: guessing one is hopeless
PUBLIC_ID_BYTES = 16
# Recording activity on every request would make every page view a database write; a minute of
# imprecision in the idle timeout is the price.
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_USER_AGENT_LENGTH = 512  # browser_sessions.user_agent
STORE_EXTENSION = "authserver.session_store"
_CURRENT = "authserver_current_session"


@dataclass(frozen=True)
class BrowserSession:
    """A signed-in browser, as the rest of the application sees it."""

    sid: str  # the public id; goes into ID tokens as `sid`
    user_id: int
    user_subject: str
    auth_time: datetime  # aware UTC: when the user last actually authenticated
    amr: tuple[str, ...]  # RFC 8176 method references, e.g. ("pwd",)
    acr: str  # ACR_PASSWORD or ACR_MFA

    @property
    def has_second_factor(self) -> bool:
        return is_multi_factor(self.amr)


def is_multi_factor(amr: Sequence[str]) -> bool:
    """True when the methods in ``amr`` include a second factor."""
    return not SECOND_FACTOR_METHODS.isdisjoint(amr)


@dataclass(frozen=True)
class _Current:
    session: BrowserSession | None


def current_session(*, now: datetime | None = None) -> BrowserSession | None:
    """The live session named by this request's cookie, or None.

    Looked up once per request. Slides ``last_seen_at`` at most once per TOUCH_INTERVAL.
    """
    cached: _Current | None = g.get(_CURRENT)
    if cached is None:
        session = _load_current_session(now or utcnow())
        cached = _Current(session)
        setattr(g, _CURRENT, cached)
        if session is not None:
            note_request_party(user_subject=session.user_subject)
    return cached.session


def start_session(user: User, *, amr: Sequence[str], now: datetime | None = None) -> BrowserSession:
    """Sign ``user`` in on this browser; whatever session it had before is revoked, unless it
    is the same person's live session, which goes on under the new token.

    A new token at every sign-in means an id planted in the browser beforehand (session
    fixation) is worth nothing afterwards.
    """
    if isinstance(amr, str) or not amr:
        # A bare string is a Sequence[str] too, and would become ("p", "w", "d").
        raise ValueError("amr must be a non-empty list of method names, e.g. ['pwd']")
    now = now or utcnow()
    store = session_store()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    stored = _new_stored_session(user, tuple(amr), now)
    previous_token = read_session_token()
    previous = None if previous_token is None else store.find(hash_token(previous_token))
    if previous_token is not None and previous is not None and _continues(previous, user, now):
        # The same person authenticating again here (a step-up to a second factor, setting
        # one up, prompt=login): not a sign-out, so relying parties are not told of one. The
        # session keeps its public id, the `sid` their ID tokens and refresh tokens name.
        stored = replace(stored, public_id=previous.public_id)
        store.renew(hash_token(previous_token), hash_token(token), stored)
    else:
        if previous_token is not None:
            store.revoke(hash_token(previous_token), revoked_at=now)
        if previous is not None:
            announce_ended_sessions(previous.user_id, now=now)
        store.add(hash_token(token), stored)
    # Every way of signing in ends here: the account's mails follow the pages it last used.
    remember_page_language(user)
    db.session.commit()
    set_session_cookie(token)
    session = _public_view(stored, user)
    setattr(g, _CURRENT, _Current(session))
    note_request_party(user_subject=session.user_subject)
    return session


def end_current_session(*, now: datetime | None = None) -> BrowserSession | None:
    """Sign this browser out: revoke its session and clear the cookie. Returns what ended."""
    token = read_session_token()
    if token is None:
        return None
    now = now or utcnow()
    live = _find_live(hash_token(token), now)
    stored = session_store().find(hash_token(token))
    session_store().revoke(hash_token(token), revoked_at=now)
    if stored is not None:
        # In the revocation's transaction: the logout is announced exactly when it happens.
        announce_ended_sessions(stored.user_id, now=now)
    db.session.commit()
    clear_session_cookie()
    setattr(g, _CURRENT, _Current(None))
    return None if live is None else _public_view(*live)


def hash_token(token: str) -> str:
    # A plain hash is right here: the token has 256 bits of entropy, so there is nothing to
    # brute-force, and the hash must be looked up by equality.
    return hashlib.sha256(token.encode()).hexdigest()


def session_store() -> SessionStore:
    store: SessionStore = current_app.extensions[STORE_EXTENSION]
    return store


def forget_request_state(_error: BaseException | None = None) -> None:
    """teardown_request: the next request must look its session up afresh."""
    g.pop(_CURRENT, None)
    forget_cookie_change()


def _load_current_session(now: datetime) -> BrowserSession | None:
    token = read_session_token()
    if token is None:
        return None
    token_hash = hash_token(token)
    live = _find_live(token_hash, now)
    if live is None:
        return None
    stored, user = live
    if now - stored.last_seen_at >= TOUCH_INTERVAL:
        session_store().touch(token_hash, seen_at=now)
        db.session.commit()
    return _public_view(stored, user)


def _find_live(token_hash: str, now: datetime) -> tuple[StoredSession, User] | None:
    stored = session_store().find(token_hash)
    if stored is None:
        return None
    user = db.session.get(User, stored.user_id)
    if user is None or not is_live(stored, user, now=now):
        return None
    return stored, user


def is_live(stored: StoredSession, user: User, *, now: datetime) -> bool:
    """Every rule a session must pass to be used, in one place for lookups and listings."""
    if not _is_within_limits(stored, now) or user.is_disabled:
        return False
    # Password change or reset, disable or "sign out everywhere" since the session began.
    return user.tokens_valid_after is None or stored.created_at >= user.tokens_valid_after


def _is_within_limits(stored: StoredSession, now: datetime) -> bool:
    idle_limit = timedelta(seconds=current_settings().session_idle_ttl)
    return (
        stored.revoked_at is None
        and now < stored.expires_at
        and now < stored.last_seen_at + idle_limit
    )


def _continues(previous: StoredSession, user: User, now: datetime) -> bool:
    return previous.user_id == user.id and is_live(previous, user, now=now)


def _new_stored_session(user: User, amr: tuple[str, ...], now: datetime) -> StoredSession:
    return StoredSession(
        public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES),
        user_id=user.id,
        auth_time=now,
        amr=amr,
        acr=ACR_MFA if is_multi_factor(amr) else ACR_PASSWORD,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=current_settings().session_absolute_ttl),
        revoked_at=None,
        ip=request.remote_addr,
        user_agent=request.user_agent.string[:MAX_USER_AGENT_LENGTH] or None,
    )


def _public_view(stored: StoredSession, user: User) -> BrowserSession:
    return BrowserSession(
        sid=stored.public_id,
        user_id=user.id,
        user_subject=user.subject,
        auth_time=stored.auth_time,
        amr=stored.amr,
        acr=stored.acr,
    )

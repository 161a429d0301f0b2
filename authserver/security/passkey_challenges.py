"""The challenges of passkey ceremonies: random, short lived, used once, shared by instances.

WebAuthn Level 3 §13.4.3: a challenge MUST be random (at least 16 bytes) and the relying party
MUST accept each one once. Each is stored (its SHA-256) in ``passkey_challenges`` with its
purpose, its user (or the invitation a passkey is being made for) and an expiry
(AUTHSERVER_WEBAUTHN_CHALLENGE_TTL); an answer is matched to its row through the challenge the
browser signed (in clientDataJSON), and the row is taken by
one conditional DELETE, so of two answers to one challenge, on any instances, exactly one
finds it. A failed ceremony has used its challenge up too; unanswered ones go with
``authserver maintenance purge``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, delete

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import PasskeyChallenge

Purpose = Literal["register", "sign-in", "second-factor", "invitation"]
CHALLENGE_BYTES = 32


def issue_challenge(
    purpose: Purpose, *, user_id: int | None, now: datetime, invitation_id: int | None = None
) -> bytes:
    """A new challenge for ``purpose`` (and ``user_id``'s or ``invitation_id``'s ceremony);
    staged, the caller commits."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    ttl = timedelta(seconds=current_settings().webauthn_challenge_ttl)
    db.session.add(
        PasskeyChallenge(
            challenge_hash=_hash(challenge),
            purpose=purpose,
            user_id=user_id,
            invitation_id=invitation_id,
            expires_at=now + ttl,
        )
    )
    return challenge


def use_challenge(
    challenge: bytes,
    purpose: Purpose,
    *,
    user_id: int | None,
    now: datetime,
    invitation_id: int | None = None,
) -> bool:
    """Take the live challenge of this purpose, user and invitation; False when it is unknown,
    expired, for something else (another invitation's, say), or already taken. Staged: the
    caller commits before anything else (a refused answer must not give its challenge back)."""
    taken = cast(
        "CursorResult[Any]",
        db.session.execute(
            delete(PasskeyChallenge)
            .where(
                PasskeyChallenge.challenge_hash == _hash(challenge),
                PasskeyChallenge.purpose == purpose,
                PasskeyChallenge.expires_at > now,
                PasskeyChallenge.user_id.is_(None)
                if user_id is None
                else PasskeyChallenge.user_id == user_id,
                PasskeyChallenge.invitation_id.is_(None)
                if invitation_id is None
                else PasskeyChallenge.invitation_id == invitation_id,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    return taken.rowcount == 1


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()

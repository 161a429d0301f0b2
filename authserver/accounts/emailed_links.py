"""Single-use tokens that travel in emailed links: making them and hashing them for storage.

A token is 256 random bits (DESIGN.md "Tokens"). Only its SHA-256 is stored, and the hash input
starts with the token's purpose, so the same string hashes differently for each purpose: a
password-reset token looked up as an email-verification token finds nothing, and the other way
round (STYLE.md: tokens for different purposes never share a key or salt). A fast hash is right
here: 256 bits leave nothing to brute-force, and the hash is looked up by equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_BYTES = 32  # 256 bits
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet; anything else is not ours
# and is refused before it reaches the database.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password-reset"
    EMAIL_VERIFICATION = "email-verification"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # goes into the emailed link, never into storage or logs
    token_hash: str  # what is stored


def issue_token(purpose: TokenPurpose) -> IssuedToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return IssuedToken(token=token, token_hash=hash_token(purpose, token))


def hash_token(purpose: TokenPurpose, token: str) -> str:
    return hashlib.sha256(f"authserver:{purpose}:{token}".encode()).hexdigest()


def has_token_shape(token: str) -> bool:
    return _TOKEN_SHAPE.fullmatch(token) is not None

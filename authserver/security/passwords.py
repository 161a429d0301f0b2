"""Password hashing (argon2id) and the policy for choosing a new password (NIST SP 800-63B).

The hashing parameters are module constants in one place; a later change moves them to settings.
Stored hashes made with other parameters keep verifying and are upgraded at the next sign-in
(:func:`needs_rehash`).
"""

from __future__ import annotations

import secrets
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from authserver.security.errors import PasswordPolicyError

__all__ = [
    "COMMON_PASSWORDS",
    "DUMMY_HASH",
    "HASH_PARAMETERS",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordPolicyError",
    "check_password_policy",
    "hash_password",
    "is_common_password",
    "needs_rehash",
    "verify_password",
]

# RFC 9106 §4, second recommended option: argon2id, t=3, m=64 MiB, p=4. The first option needs
# 2 GiB per hash, too much for a web worker that may hash several passwords at once.
HASH_PARAMETERS = profiles.RFC_9106_LOW_MEMORY

# SP 800-63B §5.1.1.2 asks for at least 8; 12 is the usual choice for a single factor. The
# maximum only bounds the work one request can cause; it is far above any passphrase.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# Shorter local parts ("jo@...") are fragments of too many good passwords to be worth refusing.
MIN_CHECKED_LOCAL_PART_LENGTH = 4

_hasher = PasswordHasher.from_parameters(HASH_PARAMETERS)

# SP 800-63B §5.1.1.2: a new password is compared with "passwords obtained from previous breach
# corpuses" and refused if it is there. The list is Django's 19,640 common passwords (compiled by
# Royce Williams from breach corpuses; lower-cased and deduplicated), BSD-3-Clause: see
# data/README.md. Read once into a frozenset, so a look-up is one hash probe.
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


def _load_common_passwords(path: Path) -> frozenset[str]:
    with path.open(encoding="utf-8") as lines:
        return frozenset(stripped for line in lines if (stripped := line.strip()))


COMMON_PASSWORDS = _load_common_passwords(COMMON_PASSWORDS_PATH)


def _normalise(password: str) -> str:
    # SP 800-63B §5.1.1.2: the same password typed on two keyboards may arrive as different code
    # points (composed or not); NFKC makes them hash alike.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(_normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or a hash we cannot read."""
    try:
        return _hasher.verify(password_hash, _normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (or is unreadable)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# Verified against when the account does not exist, so that an unknown e-mail address costs the
# same time as a wrong password. Nobody knows the password it was made from.
DUMMY_HASH = hash_password(secrets.token_urlsafe(32))


def is_common_password(password: str) -> bool:
    """True when ``password`` is on the bundled list (ignoring case and surrounding spaces)."""
    # The list is lower-cased; so is the password, after the same NFKC as hashing uses.
    return _normalise(password).strip().lower() in COMMON_PASSWORDS


def check_password_policy(password: str, *, email: str) -> None:
    """Raise :class:`PasswordPolicyError` saying why ``password`` may not be chosen.

    SP 800-63B §5.1.1.2: length limits, no composition rules ("one digit, one symbol"), which
    only push people towards predictable patterns, and no password known from breaches.
    """
    length = len(_normalise(password))
    if length < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if length > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    local_part = email.strip().partition("@")[0].casefold()
    if len(local_part) >= MIN_CHECKED_LOCAL_PART_LENGTH and local_part in password.casefold():
        # The address is public, so it is the first thing an attacker tries.
        raise PasswordPolicyError(
            "password must not contain the part of the email address before the @"
        )
    if is_common_password(password):
        # Attackers try these first, against every account (credential stuffing, spraying).
        raise PasswordPolicyError(
            "password is too common: it appears in lists of passwords leaked in data breaches, "
            "which attackers try first"
        )

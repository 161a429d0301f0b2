"""Password hashing (argon2id) and the policy for choosing a new password (NIST SP 800-63B).

The hashing parameters and the minimum length come from settings (AUTHSERVER_ARGON2_*,
AUTHSERVER_PASSWORD_MIN_LENGTH). Stored hashes made with other parameters keep verifying and are
upgraded at the next sign-in (:func:`needs_rehash`).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext, ngettext

from authserver.config import Settings, current_settings
from authserver.security.errors import PasswordPolicyError
from authserver.serving.offload import run_off_loop

__all__ = [
    "COMMON_PASSWORDS",
    "DEFAULT_HASH_PARAMETERS",
    "MAX_PASSWORD_LENGTH",
    "PasswordPolicyError",
    "check_password_policy",
    "configured_hash_parameters",
    "dummy_verify",
    "hash_parameters",
    "hash_password",
    "is_common_password",
    "matches_password",
    "min_password_length",
    "needs_rehash",
    "password_problems",
    "verify_password",
]

T = TypeVar("T")

# RFC 9106 §4, second recommended option: argon2id, t=3, m=64 MiB, p=4 (the settings' defaults).
# The first option needs 2 GiB per hash, too much for a web worker that may hash several
# passwords at once.
DEFAULT_HASH_PARAMETERS = profiles.RFC_9106_LOW_MEMORY

# The maximum only bounds the work one request can cause; SP 800-63B §5.1.1.2 asks verifiers to
# accept at least 64 characters, and this is far above any passphrase.
MAX_PASSWORD_LENGTH = 128
# Shorter local parts ("jo@...") are fragments of too many good passwords to be worth refusing.
MIN_CHECKED_LOCAL_PART_LENGTH = 4


def hash_parameters(settings: Settings) -> Parameters:
    """argon2id with the configured cost; salt and output lengths as RFC 9106 §4 recommends."""
    return Parameters(
        type=Type.ID,
        version=DEFAULT_HASH_PARAMETERS.version,
        salt_len=DEFAULT_HASH_PARAMETERS.salt_len,
        hash_len=DEFAULT_HASH_PARAMETERS.hash_len,
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )


def configured_hash_parameters() -> Parameters:
    return hash_parameters(current_settings())


def min_password_length() -> int:
    return current_settings().password_min_length


# Keyed by the cost triple (argon2's Parameters is not hashable); one entry per configuration, so
# a process builds its hasher and its dummy hash once.
@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=DEFAULT_HASH_PARAMETERS.hash_len,
        salt_len=DEFAULT_HASH_PARAMETERS.salt_len,
        type=Type.ID,
    )


def _hasher() -> PasswordHasher:
    settings = current_settings()
    return _hasher_for(
        settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
    )


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


def _off_loop(function: Callable[..., T], *args: object) -> T:
    # argon2 is the one CPU-heavy call of a request; under gevent it must not run on the event
    # loop (serving/offload.py says why and how).
    return run_off_loop(current_settings().argon2_parallelism, function, *args)


def hash_password(password: str) -> str:
    return _off_loop(_hasher().hash, _normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or a hash we cannot read.

    argon2 reads the cost from the stored hash, so hashes made under older settings still verify.
    """
    try:
        return _off_loop(_hasher().verify, password_hash, _normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def matches_password(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` for a stored hash that may be missing: an account that signs in
    with passkeys only has none, and no password matches it. It still costs one verification
    (:func:`dummy_verify`), so time tells it apart from a wrong password no more than the
    answer does."""
    if password_hash is None:
        dummy_verify(password)
        return False
    return verify_password(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (or is unreadable)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=4)
def _dummy_hash_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    # Nobody knows the password it was made from.
    hasher = _hasher_for(time_cost, memory_cost, parallelism)
    return _off_loop(hasher.hash, secrets.token_urlsafe(32))


def dummy_verify(password: str) -> None:
    """Spend what verifying a real account's password costs, for an account that does not exist.

    An unknown e-mail address must take as long as a wrong password, or the time tells which
    addresses have accounts. The dummy hash is made with today's parameters, like a fresh hash.
    """
    settings = current_settings()
    dummy = _dummy_hash_for(
        settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
    )
    verify_password(dummy, password)


def is_common_password(password: str) -> bool:
    """True when ``password`` is on the bundled list (ignoring case and surrounding spaces)."""
    # The list is lower-cased; so is the password, after the same NFKC as hashing uses.
    return _normalise(password).strip().lower() in COMMON_PASSWORDS


def check_password_policy(password: str, *, email: str) -> None:
    """Raise :class:`PasswordPolicyError` saying why ``password`` may not be chosen: every rule
    it breaks (:func:`password_problems`), so a person fixes them all in one go."""
    problems = password_problems(password, email=email)
    if problems:
        raise PasswordPolicyError(*problems)


def password_problems(password: str, *, email: str) -> list[str]:
    """Every rule of the policy that ``password`` breaks, in order; [] when it may be chosen.

    SP 800-63B §5.1.1.2: length limits, no composition rules ("one digit, one symbol"), which
    only push people towards predictable patterns, and no password known from breaches.
    """
    problems: list[str] = []
    length = len(_normalise(password))
    minimum = min_password_length()
    # Each rule in the language of the page (English in a command); a lower-case clause, made
    # a sentence where a page shows it (web/link_pages.py).
    if length < minimum:
        problems.append(
            ngettext(
                "password must be at least %(num)d character",
                "password must be at least %(num)d characters",
                minimum,
            )
        )
    if length > MAX_PASSWORD_LENGTH:
        problems.append(
            ngettext(
                "password must be at most %(num)d character",
                "password must be at most %(num)d characters",
                MAX_PASSWORD_LENGTH,
            )
        )
    local_part = email.strip().partition("@")[0].casefold()
    if len(local_part) >= MIN_CHECKED_LOCAL_PART_LENGTH and local_part in password.casefold():
        # The address is public, so it is the first thing an attacker tries.
        problems.append(
            gettext("password must not contain the part of the email address before the @")
        )
    if is_common_password(password):
        # Attackers try these first, against every account (credential stuffing, spraying).
        problems.append(
            gettext(
                "password is too common: it appears in lists of passwords leaked in data "
                "breaches, which attackers try first"
            )
        )
    return problems

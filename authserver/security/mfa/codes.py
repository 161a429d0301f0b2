"""The codes of the second factor, without storage: TOTP (RFC 6238) and recovery codes.

TOTP uses what every authenticator app supports: HMAC-SHA-1, 6 digits, 30-second steps, and a
160-bit secret (RFC 4226 §4 R6 recommends 160 bits). Recovery codes are 10 characters from an
alphabet without look-alikes, shown as two groups of five (``ABCDE-FGHJK``), so they never
look like a 6-digit code and one input field can take either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from flask import current_app

from authserver.security.errors import MalformedMfaCode

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
# RFC 6238 §5.2 allows for clock drift and typing time; one step either side is the usual
# compromise (a code then works for 60-90 s) without widening the guessing odds much.
TOTP_WINDOW_STEPS = 1

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10
# 32 symbols without 0/O and 1/I, so codes survive being read aloud or copied by hand:
# 10 characters carry 50 bits.
RECOVERY_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_RECOVERY_CODE_HASH_PURPOSE = b"authserver recovery code v1"
_SEPARATORS = re.compile(r"[\s-]+")


def new_totp_secret() -> str:
    """A fresh base32 secret of 160 bits."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS, digest=hashlib.sha1)


def time_step(now: datetime) -> int:
    """The RFC 6238 §4.2 counter T for ``now``."""
    return int(now.timestamp()) // TOTP_STEP_SECONDS


def totp_code(secret: str, step: int) -> str:
    """The code an authenticator app shows during ``step``."""
    return str(_totp(secret).generate_otp(step))


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The time step within the window whose code is ``code``, or None.

    Every step of the window is compared (in constant time), so the time taken does not say
    which one matched.
    """
    current = time_step(now)
    matched: int | None = None
    for step in range(current - TOTP_WINDOW_STEPS, current + TOTP_WINDOW_STEPS + 1):
        if hmac.compare_digest(totp_code(secret, step), code):
            matched = step
    return matched


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI (Key URI Format) that authenticator apps scan."""
    return str(_totp(secret).provisioning_uri(name=account, issuer_name=issuer))


def secret_groups(secret: str) -> list[str]:
    """The secret in groups of four, for reading off a screen and typing into an app by hand."""
    return [secret[index : index + 4] for index in range(0, len(secret), 4)]


def format_secret(secret: str) -> str:
    """The groups of :func:`secret_groups` on one line (apps ignore the spaces)."""
    return " ".join(secret_groups(secret))


@dataclass(frozen=True)
class SubmittedCode:
    """What someone typed into the "Authentication code" field, recognised by its shape."""

    value: str  # without spaces and hyphens; recovery codes upper-cased
    is_recovery_code: bool


def parse_submitted_code(raw: str) -> SubmittedCode:
    """Tell a TOTP code from a recovery code, or raise :class:`MalformedMfaCode`."""
    value = _SEPARATORS.sub("", raw)
    if len(value) == TOTP_DIGITS and value.isascii() and value.isdigit():
        return SubmittedCode(value, is_recovery_code=False)
    value = value.upper()
    if len(value) == RECOVERY_CODE_LENGTH and all(c in RECOVERY_CODE_ALPHABET for c in value):
        return SubmittedCode(value, is_recovery_code=True)
    raise MalformedMfaCode()


def new_recovery_codes() -> list[str]:
    """A fresh set, in the form shown to the user (``ABCDE-FGHJK``)."""
    codes: list[str] = []
    while len(codes) < RECOVERY_CODE_COUNT:
        raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        code = f"{raw[:5]}-{raw[5:]}"
        if code not in codes:
            codes.append(code)
    return codes


def hash_recovery_code(code: str, *, user_subject: str) -> str:
    """The stored form of a recovery code (given as shown, or as parsed).

    A fast keyed hash, not argon2: checking a code means comparing it with each unused code of
    the user, and ten argon2 runs per attempt would make the challenge page a denial-of-service
    lever. Speed does not help an attacker: online, every guess is a failed MFA attempt (counted
    toward lockout) against 50 bits; offline, the HMAC key comes from AUTHSERVER_SECRET_KEY, so
    a copy of the database alone cannot test a single candidate. The user's subject is mixed
    in, so equal codes of two users never share a hash. (Changing AUTHSERVER_SECRET_KEY
    therefore invalidates every recovery code, as it does client secrets.)
    """
    normalised = _SEPARATORS.sub("", code).upper()
    message = f"{user_subject}:{normalised}".encode()
    return hmac.new(_recovery_hash_key(), message, hashlib.sha256).hexdigest()


def _recovery_hash_key() -> bytes:
    secret_key: str = current_app.config["SECRET_KEY"]
    return hmac.new(secret_key.encode(), _RECOVERY_CODE_HASH_PURPOSE, hashlib.sha256).digest()

"""User codes of the device authorization grant (RFC 8628 §6.1): made, shown, read back, hashed.

Eight characters from twenty consonants (no vowels, so no words; no digits or letters that
look alike), shown as two groups of four (``BCDF-GHJK``): about 34.5 bits, enough with the
rate limit on guesses (AUTHSERVER_RATELIMIT_USER_CODE) and the codes' short life. People type
them, so what they enter is read leniently: case, dashes and spaces do not matter.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from authserver.security.derived_keys import derived_key

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
LENGTH = 8
GROUP = 4
# Whatever is longer than this is not a typed user code (a few extra spaces or dashes at most).
MAX_INPUT_LENGTH = 32
_PURPOSE = b"authserver device user code v1"


def new_user_code() -> str:
    """A fresh code in its stored (normalised) form: eight letters, no dash."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``BCDFGHJK`` as ``BCDF-GHJK``, the way the device shows it."""
    return code[:GROUP] + "-" + code[GROUP:]


def normalise(entered: str) -> str | None:
    """What a person typed, as a stored code; None when it cannot be one of ours.

    RFC 8628 §6.1: the input is case-insensitive and ignores the dash (and spaces) people add.
    """
    if len(entered) > MAX_INPUT_LENGTH:
        return None
    code = "".join(ch for ch in entered.upper() if ch not in "- \t")
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def hash_user_code(code: str) -> str:
    """HMAC-SHA-256 under a key of its own derived from the secret key: with ~34 bits a code is
    too small for a plain hash (a stolen table could be searched in hours); the key keeps the
    search impossible."""
    return hmac.new(derived_key(_PURPOSE), code.encode(), hashlib.sha256).hexdigest()

"""The one redaction step every log line passes through (DESIGN.md, "Edges": Logs).

Two rules, applied together by the log formatters:

* by name: a value whose key names a secret (``password``, ``client_secret``, ``code``,
  ``refresh_token``, ``authorization``, ``cookie``, a cookie of ours, ...) is replaced,
  wherever it sits in a structured field, however deeply nested;
* by shape: in every string (messages, tracebacks, and every string value of the structured
  fields) JWTs, ``Bearer``/``Basic`` credentials, secret ``key=value`` pairs of query strings
  and form bodies, ``"key": "value"`` pairs of JSON or Python reprs, ``Authorization``/
  ``Cookie`` header lines, passwords in URLs, whatever follows an emailed link's path prefix
  (``/reset/``, ``/verify-email/``, ``/unlock/``: the token, however mangled), recovery codes
  and TOTP keys are replaced.

This is a safety net (STYLE.md §6): code must still never log a secret. A 256-bit random token
logged as a bare word, with no name and no recognisable shape, cannot be told from an id.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any, cast

REDACTED = "[redacted]"
MAX_DEPTH = 8  # deeper structures are cut off: a log line is no place for them

# Normalised key names (lower case, "-" -> "_", without a __Host-/__Secure- cookie prefix).
_SECRET_NAMES = frozenset(
    {
        "code",  # authorization codes, and the TOTP / recovery code fields of our forms
        "otp",
        "totp",
        "pin",
        "state",
        "authorization",
        "cookie",
        "set_cookie",
        "assertion",
        "jwt",
        "dsn",
        # Cookies (sessions/cookies.py, web/mfa.py, security/devices.py, Flask's own session).
        "session",
        "authserver_session",
        "authserver_mfa_pending",
        "authserver_device",
    }
)
_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "token_hint",  # id_token_hint (OIDC RP-initiated logout)
    "_code",  # authorization_code, recovery_code, mfa_code, user_code
    "_codes",
    "cookie",
    "cookies",
    "assertion",  # client_assertion (RFC 7523)
    "verifier",  # code_verifier (RFC 7636)
    "authorization",  # proxy_authorization, http_authorization (WSGI environ)
    "api_key",
    "private_key",
    "credential",
    "credentials",
    "_otp",
)
_SECRET_PARTS = ("password", "passwd", "secret")  # client_secret_hash, secret_key, ...
# Names the suffix rules would catch that hold nothing secret.
_PUBLIC_NAMES = frozenset(
    {
        "status_code",
        "error_code",
        "exit_code",
        "return_code",
        "response_code",
        "http_code",
        "country_code",
        "language_code",
        "token_type",
        "token_type_hint",
    }
)
_COOKIE_PREFIXES = ("__host_", "__secure_")


@lru_cache(maxsize=4096)  # every log line asks about the same few dozen field names
def is_secret_key(key: str) -> bool:
    """Whether a field, parameter, header or cookie called ``key`` holds a secret."""
    name = key.strip().lower().replace("-", "_")
    for prefix in _COOKIE_PREFIXES:
        name = name.removeprefix(prefix)
    if name in _PUBLIC_NAMES:
        return False
    return (
        name in _SECRET_NAMES
        or name.endswith(_SECRET_SUFFIXES)
        or any(part in name for part in _SECRET_PARTS)
    )


# --- by shape, in text ---------------------------------------------------------------------------

# A header line (raw HTTP, a dumped request): everything after the colon.
_HEADER_LINE = re.compile(
    r"(?im)(?<![\w\"'-])(authorization|proxy-authorization|cookie|set-cookie)(\s*:[ \t]*)([^\r\n]+)"
)
# "key": "value" / 'key': 'value' / "key": 123 in JSON text and Python reprs.
_QUOTED_PAIR = re.compile(
    r"""(?P<kq>["'])(?P<key>[^"'\s:]{1,64})(?P=kq)(?P<sep>\s*:\s*)"""
    r"""(?:(?P<vq>["'])(?P<quoted>(?:\\.|(?!(?P=vq)).)*)(?P=vq)|(?P<bare>[^\s,}\])]+))"""
)
# key=value in query strings, form bodies and logfmt-style text.
_ASSIGNMENT = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)=(?P<value>[^&\s\"'<>;,)]+)")
# RFC 7235 credentials: "Bearer <token>", "Basic <base64>".
_SCHEME_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic|dpop)([ \t]+)([A-Za-z0-9\-._~+/]+=*)")
# A JWS (three base64url parts) or JWE (five); the protected header always starts "eyJ" ('{"').
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*){2,4}")
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s]*):([^@/\s]+)@")
# The token in an emailed link's path (web/reset.py, web/unlock.py, web/verify_email.py,
# web/not_me.py). Told by where it is, not by its shape: a path mangled on its way (a stray
# character before the token, the token cut or padded, the request line a server could not
# parse) still holds the token. What follows the prefix goes up to whitespace, a quote or an
# angle bracket (and a few stray characters right after the prefix, when a token follows them),
# in any letter case and with the slash percent-encoded too; only the static pages beside the
# links (/reset/done, /not-me/done) stay.
# The paths of accounts/emailed_links.py's LINK_PATHS, written out: this module is imported by
# gunicorn's logger before the app (tests/accounts/test_emailed_links.py keeps the two equal).
LINK_PATH_PREFIXES = ("/reset/", "/unlock/", "/verify-email/", "/not-me/", "/invitation/")
LINK_PATH_PAGES = frozenset({"", "done"})
_LINK_PREFIX = (
    "(?i)(/(?:"
    + "|".join(re.escape(prefix.strip("/")) for prefix in LINK_PATH_PREFIXES)
    + ")(?:/|%2f))"
)
_LINK_PREFIX_ONLY = re.compile(_LINK_PREFIX)
_LINK_PATH = re.compile(
    _LINK_PREFIX + r"((?:[^A-Za-z0-9_\-\r\n]{1,8}(?=[A-Za-z0-9_\-]{16}))?[^\s\"'<>]*)"
)
# security/mfa/codes.py: recovery codes "ABCDE-FGHIJ"; TOTP keys are 32 base32 characters.
_RECOVERY_CODE = re.compile(r"\b[A-Z0-9]{5}-[A-Z0-9]{5}\b")
_TOTP_KEY = re.compile(r"\b[A-Z2-7]{32}\b")


def _pair(match: re.Match[str]) -> str:
    if not is_secret_key(match["key"]):
        return match[0]
    quote = match["vq"]
    value = f"{quote}{REDACTED}{quote}" if quote else f'"{REDACTED}"'
    return f"{match['kq']}{match['key']}{match['kq']}{match['sep']}{value}"


def _assignment(match: re.Match[str]) -> str:
    return f"{match['key']}={REDACTED}" if is_secret_key(match["key"]) else match[0]


def _credentials(match: re.Match[str]) -> str:
    credential = match[3]
    # "basic information" is prose; a credential is long or has more than letters in it.
    if len(credential) < 16 and credential.isalpha():
        return match[0]
    return f"{match[1]}{match[2]}{REDACTED}"


def _link_path(match: re.Match[str]) -> str:
    return match[0] if match[2] in LINK_PATH_PAGES else match[1] + REDACTED


def redact_path(path: str) -> str:
    """A request path for the log: after an emailed link's prefix, all of the rest goes.

    A path is one value, so nothing after the prefix needs keeping (the text rule stops at
    whitespace or a quote, which a mangled path may hold before its token).
    """
    match = _LINK_PREFIX_ONLY.search(path)
    if match is None or path[match.end() :] in LINK_PATH_PAGES:
        return redact_text(path)
    return redact_text(path[: match.end()]) + REDACTED


def redact_text(text: str) -> str:
    """``text`` with every secret-shaped part replaced by ``[redacted]``.

    Each pattern runs only when a character it needs is present: every request writes a line,
    and most of its strings (paths, user agents) contain none of them.
    """
    if ":" in text:
        text = _HEADER_LINE.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
        if '"' in text or "'" in text:
            text = _QUOTED_PAIR.sub(_pair, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m[1]}:{REDACTED}@", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if " " in text or "\t" in text:
        text = _SCHEME_CREDENTIALS.sub(_credentials, text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_assignment, text)
    if "/" in text:
        text = _LINK_PATH.sub(_link_path, text)
    if "-" in text:
        text = _RECOVERY_CODE.sub(REDACTED, text)
    if len(text) >= 32:
        text = _TOTP_KEY.sub(REDACTED, text)
    return text


# --- by name, in structures ----------------------------------------------------------------------

JsonValue = Any  # Any: str, int, float, bool, None, and lists/dicts of them


def redact_value(value: object, *, depth: int = 0) -> JsonValue:
    """A JSON-ready copy of ``value``: secret-named entries replaced, every string scanned."""
    # Log fields are nearly all plain str, int, None, dict and list: those are told apart by
    # their exact type first, as the isinstance checks below (the Mapping ABC's above all) cost
    # more than scanning a short string. Each gets what the checks below would give it;
    # subclasses and every other type take that path.
    kind = type(value)
    if kind is str:
        return redact_text(cast(str, value))
    if value is None or kind is int or kind is bool:
        return value
    if kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            return "..."
        if kind is dict:
            return redact_mapping(cast(dict[Any, Any], value), depth=depth + 1)
        return [redact_value(item, depth=depth + 1) for item in cast(list[Any], value)]
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return redact_mapping(value, depth=depth + 1)
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item, depth=depth + 1) for item in value]
    # Anything else (bytes, exceptions, objects) is logged as its text, scanned like text.
    return redact_text(str(value))


def redact_mapping(mapping: Mapping[Any, Any], *, depth: int = 0) -> dict[str, JsonValue]:
    """Like :func:`redact_value`, for a mapping: keys become strings."""
    return {
        str(key): REDACTED
        if is_secret_key(str(key)) and value not in (None, "")
        else redact_value(value, depth=depth)
        for key, value in mapping.items()
    }

"""Scope syntax and the scopes this server gives meaning to."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
MAX_SCOPE_LENGTH = 1000

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"
# Releases the user's roles as the `roles` claim (accounts/roles.py).
ROLES = "roles"
# The scopes with a defined meaning here; clients may also hold API scopes of their own.
STANDARD_SCOPES = (OPENID, "profile", "email", OFFLINE_ACCESS, ROLES)


def parse_scope(raw: str | None) -> list[str]:
    """Split a scope string, keeping order and dropping duplicates."""
    seen: dict[str, None] = {}
    for token in (raw or "").split(" "):
        if token:
            seen[token] = None
    return list(seen)


def format_scope(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def is_valid_scope_string(raw: str) -> bool:
    return len(raw) <= MAX_SCOPE_LENGTH and all(SCOPE_TOKEN.match(t) for t in parse_scope(raw))


# Lazy: translated into the language of the consent page that shows them (web/languages.py).
SCOPE_DESCRIPTIONS = {
    OPENID: _l("Sign you in with your account"),
    "profile": _l("Your name"),
    "email": _l("Your email address"),
    OFFLINE_ACCESS: _l("Keep access while you are not using it"),
    ROLES: _l("Your roles"),
}


def describe_scopes(scopes: Iterable[str]) -> list[tuple[str, str]]:
    """(scope, human description) pairs for the consent page; API scopes show as they are."""
    return [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in scopes]

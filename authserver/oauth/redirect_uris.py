"""Redirect URI rules: what may be registered, and when a requested URI matches.

RFC 9700 §4.1.1: redirect URIs are compared by exact string match. The one exception is RFC 8252
§7.3 (and RFC 9700 §4.1.3): a native (public) client's loopback redirect may use any port,
because the operating system picks a free one at run time; everything else must still match.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")
MAX_URI_LENGTH = 2000


def registration_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered, or None when it can."""
    if len(uri) > MAX_URI_LENGTH:
        return f"longer than {MAX_URI_LENGTH} characters"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return "not a valid URL"
    if parts.fragment or "#" in uri:
        # RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment.
        return "must not contain a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _is_loopback(parts.netloc):
        return None
    return "must be https (http only for http://127.0.0.1 or http://[::1])"


def _is_loopback(netloc: str) -> bool:
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    return host in LOOPBACK_HOSTS


def matches_registered(requested: str, registered: list[str], *, is_public_client: bool) -> bool:
    if requested in registered:
        return True
    if not is_public_client:
        return False
    return any(_same_loopback_uri_ignoring_port(requested, each) for each in registered)


def _same_loopback_uri_ignoring_port(requested: str, registered: str) -> bool:
    try:
        asked, known = urlsplit(requested), urlsplit(registered)
        asked.port, known.port  # noqa: B018  (malformed ports raise here, and never match)
    except ValueError:
        return False
    if known.scheme != "http" or not _is_loopback(known.netloc):
        return False
    return (
        asked.scheme == known.scheme
        and asked.hostname == known.hostname
        and _is_loopback(asked.netloc)
        and asked.path == known.path
        and asked.query == known.query
        and not asked.fragment
        and not asked.username
        and not asked.password
    )

"""Redirect URI rules: what may be registered, and when a requested URI matches.

RFC 9700 §4.1.1: redirect URIs are compared by exact string match. The one exception is RFC 8252
§7.3 (and RFC 9700 §4.1.3): a native (public) client's loopback redirect may use any port,
because the operating system picks a free one at run time; everything else must still match.

The host is always the URL's parsed hostname, never a piece of the netloc cut by hand: in
``http://127.0.0.1:80@evil.example/cb`` the part before ``@`` is user information and the host
is evil.example. Such a URI is refused outright, at registration and at request time.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTNAMES = ("127.0.0.1", "::1")
MAX_URI_LENGTH = 2000
# A browser reads "\" as "/" in http(s) URLs, and drops tabs and newlines; Python does neither,
# so a URI holding one could name a different host to us than to the browser.
AMBIGUOUS_CHARACTERS = frozenset("\\ \t\r\n")


def registration_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered, or None when it can.

    The same rules hold at request time (:func:`request_problem`): a URI that could not be
    registered today is never redirected to, even if an older release stored it.
    """
    if len(uri) > MAX_URI_LENGTH:
        return f"longer than {MAX_URI_LENGTH} characters"
    parts = _parsed(uri)
    if parts is None or AMBIGUOUS_CHARACTERS & set(uri) or not uri.isprintable():
        return "not a valid URL"
    if "@" in parts.netloc:
        # RFC 9700 §2.1 (exact, unambiguous redirect URIs) and RFC 8252 §8.3: user information
        # only serves to disguise the real host, so a redirect URI MUST NOT carry it.
        return "must not contain user information (user@host)"
    if parts.fragment or "#" in uri:
        # RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment.
        return "must not contain a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _is_loopback(parts):
        # RFC 8252 §7.3 / §8.3: plain http only to the loopback interface, by IP literal.
        return None
    return "must be https (http only for http://127.0.0.1 or http://[::1])"


def request_problem(uri: str) -> str | None:
    """Why a requested (or stored) redirect URI must not be used, or None."""
    return registration_problem(uri)


def _parsed(uri: str) -> SplitResult | None:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return None
    return parts


def _is_loopback(parts: SplitResult) -> bool:
    return parts.hostname in LOOPBACK_HOSTNAMES


def matches_registered(requested: str, registered: list[str], *, is_public_client: bool) -> bool:
    if request_problem(requested) is not None:
        return False
    if requested in registered:
        return True
    if not is_public_client:
        return False
    return any(_same_loopback_uri_ignoring_port(requested, each) for each in registered)


def _same_loopback_uri_ignoring_port(requested: str, registered: str) -> bool:
    asked, known = _parsed(requested), _parsed(registered)
    if asked is None or known is None or request_problem(registered) is not None:
        return False
    if known.scheme != "http" or not _is_loopback(known):
        return False
    return (
        asked.scheme == known.scheme
        and asked.hostname == known.hostname
        and asked.path == known.path
        and asked.query == known.query
    )

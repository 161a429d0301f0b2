"""The request URL a DPoP proof's ``htu`` is compared with (RFC 9449 §4.3 check 9).

Both sides are reduced to scheme, host, port and path, then normalised as §4.3 recommends:
RFC 3986 §6.2.2 (case of scheme and host, percent-encoding, dot segments) and §6.2.3 (default
ports, an empty path). A client that writes ``HTTPS://API.example:443/a/./b`` for
``https://api.example/a/b`` is not refused for it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 §2.3: unreserved characters mean the same encoded or not.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalised_htu(url: str) -> str:
    """``url`` without query and fragment, normalised; ValueError if it is not an http(s) URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    host = parts.hostname  # urlsplit lower-cases it
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    port = parts.port  # raises ValueError for a port that is not a number in range
    authority = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{_normalised_path(parts.path)}"


def _normalised_path(path: str) -> str:
    path = _PERCENT.sub(_decode_if_unreserved, path)
    return _remove_dot_segments(path) or "/"


def _decode_if_unreserved(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    return character if character in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on whole segments."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        if segment == ".":
            if is_last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if is_last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)

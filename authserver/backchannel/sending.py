"""One POST of a logout token to a relying party (OIDC Back-Channel Logout 1.0 §2.5).

The standard library's http.client on purpose: it never follows a redirect (a 3xx is a failed
attempt; following one would let the relying party's host send our request anywhere), the
timeout bounds the connect and every read, and nothing is pooled between attempts. Under a gevent
worker its sockets are cooperative, like every other socket.
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlencode, urlsplit

from authserver.oauth.redirect_uris import LOOPBACK_HOSTNAMES, registration_problem

MAX_RESPONSE_BYTES = 4096  # the body means nothing to us; read a little so the socket closes


class DeliveryFailed(Exception):
    """The attempt did not end with a 2xx answer; the message says why (no token in it)."""


def logout_uri_problem(uri: str, *, is_production: bool) -> str | None:
    """Why ``uri`` cannot be a back-channel logout URI, or None (§2.2: an absolute URL, a query
    allowed, no fragment). The redirect URIs' rules (https, or http to a loopback address; no
    user information), and in production no loopback address at all: the server would be
    posting to its own host."""
    problem = registration_problem(uri)
    if problem is None and is_production and is_loopback_target(uri):
        return "must not be a loopback address in production"
    return problem


def is_loopback_target(uri: str) -> bool:
    host = urlsplit(uri).hostname
    return host in (*LOOPBACK_HOSTNAMES, "localhost")


def post_logout_token(uri: str, token: str, *, timeout: float) -> int:
    """POST ``logout_token=<token>``; returns the 2xx status, raises :class:`DeliveryFailed`."""
    parts = urlsplit(uri)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            target,
            body=urlencode({"logout_token": token}),
            headers={
                # §2.5: the token is a form parameter of a POST.
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(type(exc).__name__) from None
    finally:
        connection.close()
    # §2.8: 200 on success; some frameworks answer 204 instead, which means the same.
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"HTTP {response.status}")
    return response.status

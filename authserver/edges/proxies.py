"""Believe X-Forwarded-* headers only from the proxies the operator named.

Werkzeug's ProxyFix trusts by position (the last N hops of X-Forwarded-For), not by address:
on its own it would let any client that reaches the server directly claim any address, scheme
or host. So ProxyFix runs only when the connection's peer (REMOTE_ADDR) is inside
AUTHSERVER_TRUSTED_PROXIES; for every other peer the headers are left as they came and nothing
reads them (request.remote_addr stays the peer, the scheme stays the connection's).

What the fix changes is what everything else sees: the rate limiter's per-IP keys, audit rows,
session records, ``request.is_secure`` (HTTPS redirection, HSTS, secure cookies) and
``request.host``.

``X-Request-ID`` is a proxy header too: the id names the log lines and audit rows of a request,
so a client that could choose it could make its requests look like someone else's, or bury them
under one id. It is removed from every request whose peer is not a trusted proxy, here at the
edge, so Flask and the public documents (which answer outside Flask) both make their own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from authserver.config import app_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
REQUEST_ID_ENVIRON_KEY = "HTTP_X_REQUEST_ID"


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def is_trusted_peer(peer: str | None, networks: tuple[Network, ...]) -> bool:
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False  # a unix socket path or garbage: not one of the named proxies
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket
    return any(address in network for network in networks)


class TrustedProxyFix:
    """WSGI middleware: ProxyFix for requests from trusted proxies; for the rest, the
    forwarded headers are left unread and X-Request-ID is dropped."""

    def __init__(self, app: WSGIApplication, networks: tuple[Network, ...], hops: int) -> None:
        self.app = app
        self.networks = networks
        # Port and prefix stay untrusted: the host header a proxy forwards carries the port, and
        # the application's path is fixed by the issuer, not by a header.
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if is_trusted_peer(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        environ.pop(REQUEST_ID_ENVIRON_KEY, None)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    networks = parse_networks(settings.trusted_proxies)
    # Installed even when no proxy is trusted: then it only drops every X-Request-ID.
    app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, networks, settings.trusted_proxy_hops
    )

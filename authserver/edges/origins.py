"""Web origins (RFC 6454) of the clients' registered redirect URIs.

Two edge features need them: CORS on the token and userinfo endpoints (a browser-based client
runs on the origin of its redirect URI), and the CSP ``form-action`` of a page whose form ends in
a redirect back to a client.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import is_database_outage
from authserver.extensions import db, discard_failed_transaction
from authserver.models.clients import Client

log = logging.getLogger(__name__)

EXTENSION = "authserver.registered_origins"
# A new client's origin is allowed within this long on every instance; a deleted client's origin
# lingers as long. CORS only lets a page read answers it could get with its own credentials
# anyway, so a minute of staleness costs nothing, and it saves a query per cross-origin request.
CACHE_TTL_SECONDS = 60.0
DEFAULT_PORTS = {"http": 80, "https": 443}
# What goes into a header must be exactly a host: a registered URI is validated for scheme and
# host at registration, but nothing there stops characters that would end a CSP directive.
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def origin_of(uri: str) -> str | None:
    """``scheme://host[:port]`` as a browser serialises it in ``Origin``; None if not http(s)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.netloc.rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if port is not None else host
    if not _HOST.fullmatch(host):
        return None
    origin = f"{parts.scheme}://{host.lower()}"
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        origin += f":{port}"
    return origin


def origins_of(uris: Iterable[str]) -> frozenset[str]:
    return frozenset(origin for origin in map(origin_of, uris) if origin is not None)


class RegisteredOrigins:
    """The set of every client's redirect-URI origins, reloaded at most once per TTL."""

    def __init__(self, *, ttl_seconds: float = CACHE_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._origins: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def contains(self, origin: str, *, clock: Callable[[], float] = time.monotonic) -> bool:
        now = clock()
        with self._lock:
            if self._loaded_at is None or now - self._loaded_at >= self._ttl:
                loaded = _load_origins()
                if loaded is None:
                    return False  # fail closed, and try the database again next time
                self._origins, self._loaded_at = loaded, now
            return origin in self._origins


def _load_origins() -> frozenset[str] | None:
    try:
        uri_lists = db.session.scalars(select(Client.redirect_uris)).all()
    except SQLAlchemyError as exc:
        discard_failed_transaction()
        if not is_database_outage(exc):  # an outage is logged once, by authserver/outages.py
            log.warning("could not load client origins for CORS; refusing cross-origin reads")
        return None
    return origins_of(uri for uris in uri_lists for uri in (uris or []))


def is_registered_origin(origin: str) -> bool:
    registered: RegisteredOrigins = current_app.extensions[EXTENSION]
    return registered.contains(origin)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = RegisteredOrigins()

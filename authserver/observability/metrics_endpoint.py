"""GET /metrics: the Prometheus text format, for scrapers we were told about and nobody else.

Access (docs/deploy.md, "Metrics"):

- ``AUTHSERVER_METRICS_TOKEN``: the scraper sends ``Authorization: Bearer <token>``;
- ``AUTHSERVER_METRICS_ALLOW``: the direct peer's address (``request.remote_addr``) is in one of
  these networks;
- both set: both must pass; neither set: metrics are off and /metrics is a 404 like any unknown
  path, so a default install publishes nothing about its traffic.

A refusal says nothing about why: 403 for an address outside the list, 401 for a missing or
wrong token (RFC 6750 §3: with a ``WWW-Authenticate: Bearer`` challenge and no error detail).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from authserver.config import Settings, app_settings
from authserver.observability.key_metrics import SigningKeyAgeCollector
from authserver.observability.metrics import Metrics, app_metrics
from authserver.observability.outbox_metrics import LogoutOutboxCollector

bp = Blueprint("metrics", __name__)

ACCESS_EXTENSION = "authserver.metrics.access"
SCRAPE_EXTENSION = "authserver.metrics.scrape_registry"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsAccess:
    token_digest: bytes | None
    networks: tuple[IPNetwork, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsAccess:
        token = settings.metrics_token
        return cls(
            token_digest=None if token is None else _digest(token),
            networks=tuple(ipaddress.ip_network(each) for each in settings.metrics_allow),
        )

    @property
    def is_enabled(self) -> bool:
        return self.token_digest is not None or bool(self.networks)

    def is_address_allowed(self, address: str | None) -> bool:
        if not self.networks:
            return True
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False  # a unix socket or no peer at all: not an address we listed
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
        return any(peer in network for network in self.networks)

    def is_token_accepted(self, authorization: str) -> bool:
        if self.token_digest is None:
            return True
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False
        # Digests first: equal lengths, so the comparison time says nothing about the token,
        # not even its length.
        return hmac.compare_digest(_digest(presented.strip()), self.token_digest)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(f"{reason}\n", status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    access: MetricsAccess = current_app.extensions[ACCESS_EXTENSION]
    if not access.is_enabled:
        abort(404)
    if not access.is_address_allowed(request.remote_addr):
        return _refusal(403, "Forbidden")
    if not access.is_token_accepted(request.headers.get("Authorization", "")):
        return _refusal(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry: CollectorRegistry = current_app.extensions[SCRAPE_EXTENSION]
    response = Response(generate_latest(registry), mimetype=None)
    response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
    response.headers["Cache-Control"] = "no-store"
    return response


def _scrape_registry(metrics: Metrics, settings: Settings) -> CollectorRegistry:
    """What a scrape reads: every worker's files under gunicorn, else this app's own registry."""
    if metrics.multiprocess_dir is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=metrics.multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        registry = metrics.registry
    registry.register(SigningKeyAgeCollector(settings.key_rotation_interval))
    registry.register(LogoutOutboxCollector())
    return registry


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    metrics = app_metrics(app)
    assert metrics is not None, "observability.metrics.init_app runs first"
    app.extensions[ACCESS_EXTENSION] = MetricsAccess.from_settings(settings)
    app.extensions[SCRAPE_EXTENSION] = _scrape_registry(metrics, settings)
    app.register_blueprint(bp)

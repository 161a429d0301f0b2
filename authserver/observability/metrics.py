"""Prometheus metrics: what the server counts, and the cheap per-request hook that counts it.

Each app owns a :class:`Metrics` (its own registry), so every test app starts from zero. Under
gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` is set by `authserver serve` before any worker starts:
prometheus-client then keeps each worker's values in files in that folder, and a scrape (served
by whichever worker gets it) adds up every worker's files (metrics_endpoint.py).

Label values are always from small fixed sets (Flask endpoint names, audit tags, grant types,
limit groups), never from user input, so the number of series stays bounded.

Cost: a request pays one clock read at each end, one context-local look-up, two dictionary
look-ups and two increments under prometheus-client's own locks (no database, no I/O).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask, Request, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from authserver.config_sources import metrics_multiprocess_dir

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

EXTENSION = "authserver.metrics"
PREFIX = "authserver"
UNMATCHED_ENDPOINT = "unmatched"  # 404s and 405s: no route, so no endpoint name
OTHER = "other"  # any label value outside its known set
KNOWN_OUTCOMES = frozenset({"success", "failure"})
# The grants we register (oauth/server.py); other values cannot reach a token response.
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange",  # RFC 8693
)
# Seconds. The token and JWKS endpoints answer in milliseconds; sign-ins take argon2's ~0.2 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOGOUT_DELIVERY_OUTCOMES = ("delivered", "failed", "given_up")
_STATUS_CLASSES = {hundred: f"{hundred}xx" for hundred in range(1, 6)}


class Metrics:
    """The app's metric objects, plus caches of their labelled children for the hot path."""

    def __init__(self, *, multiprocess_dir: str | None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by Flask endpoint and status class",
            ["endpoint", "status_class"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from the request reaching the app to its response being built, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_events = Counter(
            f"{PREFIX}_audit_events",
            "Security events recorded (audit.record_event), by audit tag and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            f"{PREFIX}_tokens_issued",
            "Token responses issued, by grant type",
            ["grant_type"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{PREFIX}_rate_limited_requests",
            "Requests refused with 429 by a rate limit, by limit group",
            ["group"],
            registry=self.registry,
        )
        self.limiter_fallbacks = Counter(
            f"{PREFIX}_rate_limit_storage_fallbacks",
            "Times a process lost its rate-limit storage (Redis) and counted in memory instead",
            registry=self.registry,
        )
        self.logout_deliveries = Counter(
            f"{PREFIX}_backchannel_logout_deliveries",
            "Back-channel logout token attempts, by outcome: delivered, failed (an attempt that "
            "will be retried or given up) and given_up (no more attempts)",
            ["outcome"],
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def start_at_zero(self, *, audit_tags: Iterable[str], limit_groups: Iterable[str]) -> None:
        """Create the series alerts watch, at 0: Prometheus' increase() ignores a series' first
        sample, so a counter that appeared at 1 would hide the very first replay or fallback."""
        for tag in audit_tags:
            self.audit_events.labels(tag, "failure" if tag.endswith(":failure") else "success")
        for grant_type in GRANT_TYPES:
            self.tokens_issued.labels(grant_type)
        for group in limit_groups:
            self.rate_limited.labels(group)
        for outcome in LOGOUT_DELIVERY_OUTCOMES:
            self.logout_deliveries.labels(outcome)

    def observe_request(self, endpoint: str, status: int, seconds: float | None) -> None:
        counter = self._request_children.get((endpoint, status))
        if counter is None:
            status_class = _STATUS_CLASSES.get(status // 100, OTHER)
            counter = self.requests.labels(endpoint, status_class)
            # Plain dict writes are atomic under the GIL; a race only builds a child twice.
            self._request_children[(endpoint, status)] = counter
        counter.inc()
        if seconds is None:
            return
        histogram = self._latency_children.get(endpoint)
        if histogram is None:
            histogram = self._latency_children[endpoint] = self.latency.labels(endpoint)
        histogram.observe(seconds)


def app_metrics(app: Flask | None = None) -> Metrics | None:
    """The app's metrics; None before observability.init_app ran (never in a built app)."""
    metrics: Metrics | None = (app or current_app).extensions.get(EXTENSION)
    return metrics


# --- counting: one call at the one place each event happens ------------------------------------


def count_audit_event(tag: str, outcome: str) -> None:
    metrics = app_metrics()
    if metrics is not None:
        metrics.audit_events.labels(tag, outcome if outcome in KNOWN_OUTCOMES else OTHER).inc()


def count_token_issued(grant_type: str) -> None:
    metrics = app_metrics()
    if metrics is not None:
        metrics.tokens_issued.labels(grant_type if grant_type in GRANT_TYPES else OTHER).inc()


def count_rate_limited(group: str) -> None:
    metrics = app_metrics()
    if metrics is not None:
        metrics.rate_limited.labels(group).inc()


def count_limiter_fallback(app: Flask | None = None) -> None:
    """``app`` when called outside a request (the rate limits' probe thread)."""
    metrics = app_metrics(app)
    if metrics is not None:
        metrics.limiter_fallbacks.inc()


def count_logout_delivery(outcome: str) -> None:
    """Called by the back-channel logout worker, in its own app context (no request)."""
    metrics = app_metrics()
    if metrics is not None:
        metrics.logout_deliveries.labels(
            outcome if outcome in LOGOUT_DELIVERY_OUTCOMES else OTHER
        ).inc()


# --- the per-request hook ------------------------------------------------------------------------

# In the WSGI environ rather than flask.g: the clock starts before Flask builds its request
# context (which the latency then includes), and setting it needs no context-local look-up.
_STARTED_AT = "authserver.metrics.started_at"


class _StartClock:
    """WSGI middleware that notes when a request arrived; everything else happens in the app."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[_STARTED_AT] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def _request_counter(metrics: Metrics) -> Callable[[Response], Response]:
    def count_request(response: Response) -> Response:
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        started: float | None = current.environ.get(_STARTED_AT)
        seconds = None if started is None else time.perf_counter() - started
        metrics.observe_request(
            current.endpoint or UNMATCHED_ENDPOINT, response.status_code, seconds
        )
        return response

    return count_request


def init_app(app: Flask, *, audit_tags: Iterable[str], limit_groups: Iterable[str]) -> None:
    # No `_created` series: they double the output, and gunicorn's shared files never have them,
    # so one process and many now expose the same names. (A process-wide switch; idempotent.)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = Metrics(multiprocess_dir=metrics_multiprocess_dir())
    metrics.start_at_zero(audit_tags=audit_tags, limit_groups=limit_groups)
    app.extensions[EXTENSION] = metrics
    app.wsgi_app = _StartClock(app.wsgi_app)  # type: ignore[method-assign]
    # after_request also runs for error responses, 500s included (Flask's handle_exception).
    app.after_request(_request_counter(metrics))

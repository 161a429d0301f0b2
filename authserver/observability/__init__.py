"""Logging, request logs and ids, health probes and Prometheus metrics."""

from __future__ import annotations

from logging import getLogger

from flask import Flask

from authserver.config import app_settings
from authserver.observability import health, metrics, metrics_endpoint, request_id, request_log
from authserver.observability.logging import configure_logging

# `logging` here would be our submodule, which shares the standard library's name.
log = getLogger(__name__)


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    configure_logging(settings)
    for warning in settings.warnings:
        log.warning("configuration: %s", warning)
    if settings.generated_secrets:
        log.warning(
            "configuration: using development secrets from %s; never do this in production",
            settings.instance_path,
        )
    # First of all hooks: the request log times the whole request and writes its line last.
    request_log.init_app(app)
    request_id.init_app(app)
    # Imported here: both modules reach back into the package while it is still being imported.
    from authserver.audit.events import EventTag
    from authserver.ratelimit.limits import GROUPS

    metrics.init_app(app, audit_tags=[str(tag) for tag in EventTag], limit_groups=GROUPS)
    metrics_endpoint.init_app(app)
    app.register_blueprint(health.bp)

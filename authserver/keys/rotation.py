"""Automatic key rotation by age: each process advances the lifecycle about once a minute.

Rotation is "on by default" without any scheduler to set up: the first request a process
serves after the interval runs :func:`advance_lifecycle`, which is idempotent and safe when
several instances run it at once (conditional updates; the loser changes nothing).
`authserver keys advance` does the same step from cron, for installs that prefer that.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from flask import Flask, current_app, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from authserver.config import app_settings, current_settings
from authserver.database_faults import is_database_outage
from authserver.extensions import db, discard_failed_transaction
from authserver.keys.errors import ConcurrentKeyChange
from authserver.keys.manager import advance_lifecycle
from authserver.models.apis import Api
from authserver.models.clients import Client

log = logging.getLogger(__name__)

ADVANCE_EVERY_SECONDS = 60.0
STATE_EXTENSION = "authserver.keys.rotation"
# Probes and static files must stay free of database work.
SKIPPED_PATH_PREFIXES = ("/healthz", "/readyz", "/static/")


class RotationClock:
    def __init__(self) -> None:
        self.next_run = 0.0  # monotonic time; 0 means "on the first request"


def longest_client_token_lifetime() -> int:
    """Per-client and per-API lifetimes can exceed the settings; retired keys must outlive
    those tokens."""
    longest = db.session.execute(
        select(
            select(func.max(Client.access_token_ttl)).scalar_subquery(),
            select(func.max(Client.id_token_ttl)).scalar_subquery(),
            select(func.max(Api.access_token_ttl)).scalar_subquery(),
        )
    ).one()
    return max((value or 0) for value in longest)


def advance_if_due() -> None:
    clock: RotationClock = current_app.extensions[STATE_EXTENSION]
    if request.path.startswith(SKIPPED_PATH_PREFIXES) or time.monotonic() < clock.next_run:
        return
    clock.next_run = time.monotonic() + ADVANCE_EVERY_SECONDS
    settings = current_settings()
    try:
        report = advance_lifecycle(
            now=datetime.now(UTC),
            settings=settings,
            max_token_lifetime_seconds=longest_client_token_lifetime(),
            via="auto",
        )
    except (ConcurrentKeyChange, SQLAlchemyError) as exc:
        # Another instance did it first, or the database hiccuped: the next run will catch up.
        discard_failed_transaction()
        if not is_database_outage(exc):  # an outage is logged once, by authserver/outages.py
            log.info("key lifecycle step skipped: %s", type(exc).__name__)
        return
    if report.changed:
        log.info("key lifecycle advanced: %s", report.as_dict())


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    if settings.key_auto_rotate:
        app.extensions[STATE_EXTENSION] = RotationClock()
        app.before_request(advance_if_due)

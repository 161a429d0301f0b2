"""Logout tokens waiting in the outbox, counted from the database at scrape time.

Every instance reads the same outbox, so any worker answers for all of them; a gauge kept by
the workers would only know what their own process did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import is_database_outage
from authserver.extensions import db
from authserver.models.backchannel import LogoutMessage

log = logging.getLogger(__name__)

PENDING_METRIC = "authserver_backchannel_logout_pending"


class LogoutOutboxCollector:
    """Yields how many logout tokens are waiting (due now or waiting for a retry)."""

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(PENDING_METRIC, "")

    def collect(self) -> Iterator[Metric]:
        try:
            pending = db.session.scalar(select(func.count()).select_from(LogoutMessage)) or 0
        except SQLAlchemyError as exc:
            # Left out rather than failing the scrape (as key_metrics.py does).
            if not is_database_outage(exc):
                log.warning("metrics: logout outbox size unavailable: %s", type(exc).__name__)
            return
        finally:
            db.session.rollback()  # end the read transaction; a scrape changes nothing
        yield GaugeMetricFamily(
            PENDING_METRIC,
            "Back-channel logout tokens not delivered yet (neither delivered nor given up)",
            value=pending,
        )

"""Signing-key age, computed from the database at scrape time (a collector, not a stored gauge).

Every instance reads the same keys table, so any worker can answer for all of them, and nothing
has to be updated on the request path. The age runs from the key's activation, the clock that
automatic rotation uses (keys/manager.py); the configured interval is published beside it so an
alert rule can compare the two (docs/alerts.yml).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import is_database_outage
from authserver.extensions import db
from authserver.models.keys import KeyState, SigningKey

log = logging.getLogger(__name__)

AGE_METRIC = "authserver_signing_key_age_seconds"
INTERVAL_METRIC = "authserver_signing_key_rotation_interval_seconds"


class SigningKeyAgeCollector:
    """Yields the age of each active signing key, and the rotation interval they should keep to.

    Called inside the /metrics request, so the app context (and its database session) is there.
    """

    def __init__(self, rotation_interval_seconds: int) -> None:
        self.rotation_interval_seconds = rotation_interval_seconds

    def describe(self) -> Iterator[Metric]:
        # The registry asks for names when the collector is registered (no request, no database).
        yield GaugeMetricFamily(INTERVAL_METRIC, "")
        yield GaugeMetricFamily(AGE_METRIC, "", labels=["kid", "alg"])

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            INTERVAL_METRIC,
            "AUTHSERVER_KEY_ROTATION_INTERVAL: the age at which an active key gets a successor",
            value=self.rotation_interval_seconds,
        )
        ages = GaugeMetricFamily(
            AGE_METRIC,
            "Seconds since each active signing key became active",
            labels=["kid", "alg"],
        )
        now = datetime.now(UTC)
        try:
            rows = db.session.execute(
                select(
                    SigningKey.kid, SigningKey.alg, SigningKey.activated_at, SigningKey.created_at
                )
                .where(SigningKey.state == KeyState.ACTIVE)
                .order_by(SigningKey.alg)
            ).all()
        except SQLAlchemyError as exc:
            # Leave the ages out rather than fail the scrape: the request counters still matter
            # most when the database is the thing in trouble (and /readyz says so).
            if not is_database_outage(exc):  # an outage is logged once, by outages.py
                log.warning("metrics: signing-key ages unavailable: %s", type(exc).__name__)
            return
        finally:
            db.session.rollback()  # end the read transaction; a scrape changes nothing
        for kid, alg, activated_at, created_at in rows:
            since = activated_at or created_at
            ages.add_metric([kid, str(alg)], (now - since).total_seconds())
        yield ages

"""Liveness and readiness probes.

``/healthz`` proves only that the process answers (no I/O), so an orchestrator never restarts a
healthy process because a dependency is down. ``/readyz`` checks each dependency and names the
ones that failed, but never says why: error text could help an attacker map the network.

Redis is optional (DESIGN.md): while it is down the instance still serves everyone, so a failed
Redis check makes ``/readyz`` say "degraded" with a 200. A 503 there would have every instance
taken out of the load balancer at once for an outage that costs only shared rate limits. Nor
does ``/readyz`` wait for Redis: it reports what the rate limits last found, and they probe
Redis in the background at most once a second. A ping inside the probe would take the whole
1 s deadline when Redis drops packets, longer than many balancers wait for an answer.

The database check is a real query on every call, never a remembered answer. While the
database is away it fails at once (authserver/database_guard.py), so /readyz answers 503 from
the first failed check until a connection succeeds again, without waiting for a timeout.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import is_database_outage
from authserver.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def check_database() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as exc:
        if not is_database_outage(exc):  # an outage is logged once, when it starts
            log.warning("readiness: database check failed: %s", type(exc).__name__)
        return False
    finally:
        db.session.rollback()


# Checks whose failure leaves the instance able to serve: reported, never a 503.
OPTIONAL_CHECKS = frozenset({"redis"})


def readiness_checks(app: Flask) -> dict[str, bool]:
    # Imported here: security's modules import observability's while it is being imported.
    from authserver.ratelimit.limits import rate_limits

    checks = {"database": check_database()}
    redis_answers = rate_limits(app).redis_answers()  # logged there, once per change
    if redis_answers is not None:
        checks["redis"] = redis_answers
    return checks


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks = readiness_checks(current_app)
    is_ready = all(passed for name, passed in checks.items() if name not in OPTIONAL_CHECKS)
    status = "ok" if all(checks.values()) else "degraded" if is_ready else "unavailable"
    body = {
        "status": status,
        "checks": {name: "ok" if passed else "failed" for name, passed in checks.items()},
    }
    response = jsonify(body)
    response.status_code = 200 if is_ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response

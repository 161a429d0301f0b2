"""Liveness and readiness probes.

``/healthz`` proves only that the process answers (no I/O), so an orchestrator never restarts a
healthy process because a dependency is down. ``/readyz`` checks each dependency and names the
ones that failed, but never says why: error text could help an attacker map the network.

The database check is a real query on every call, never a remembered answer. While the
database is away it fails at once (authserver/database_guard.py), so /readyz answers 503 from
the first failed check until a connection succeeds again, without waiting for a timeout.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import is_database_outage
from authserver.extensions import db, redis_client

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


def check_redis(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except (RedisError, OSError) as exc:
        log.warning("readiness: redis check failed: %s", type(exc).__name__)
        return False


def readiness_checks(app: Flask) -> dict[str, bool]:
    checks = {"database": check_database()}
    client = redis_client(app)
    if client is not None:
        checks["redis"] = check_redis(client)
    return checks


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks = readiness_checks(current_app)
    is_ready = all(checks.values())
    body = {
        "status": "ok" if is_ready else "unavailable",
        "checks": {name: "ok" if passed else "failed" for name, passed in checks.items()},
    }
    response = jsonify(body)
    response.status_code = 200 if is_ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response

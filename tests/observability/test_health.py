"""Liveness and readiness probes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.redis_server import blackholed_port


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released, so connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_healthz_answers_without_touching_dependencies(
    make_app: AppFactory, tmp_path: Path
) -> None:
    broken = make_app(database_url=f"sqlite:///{tmp_path}/missing-dir/db.sqlite3")

    response = broken.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_a_failed_database_without_details(make_app: AppFactory) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing?connect_timeout=2"
    broken = make_app(database_url=url)

    response = broken.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "checks": {"database": "failed"}}


def test_readyz_reports_redis_when_configured(make_app: AppFactory, redis_url: str) -> None:
    with_redis = make_app(redis_url=redis_url)

    response = with_redis.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_names_unreachable_redis_but_stays_ready(make_app: AppFactory) -> None:
    broken = make_app(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    client = broken.test_client()

    # The first answer may predate the background probe it starts; no answer waits for Redis.
    deadline = time.monotonic() + 10
    while (response := client.get("/readyz")).json["status"] != "degraded":  # type: ignore[index]
        assert response.status_code == 200
        assert time.monotonic() < deadline

    # Redis is optional: every instance would fail this check at once, and they all still serve.
    assert response.status_code == 200
    assert response.json == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "failed"},
    }


def test_readyz_does_not_wait_for_a_redis_that_drops_packets(make_app: AppFactory) -> None:
    with blackholed_port() as port:
        blackholed = make_app(redis_url=f"redis://127.0.0.1:{port}/0")
        client = blackholed.test_client()

        durations = []
        for _ in range(3):
            started = time.monotonic()
            assert client.get("/readyz").status_code == 200
            durations.append(time.monotonic() - started)

    assert max(durations) < 0.5, durations  # a Redis call would take its whole 1 s deadline

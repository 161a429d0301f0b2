"""A real `authserver serve` (two gunicorn workers) through a Redis stop and restart.

Redis is a redis-server of the test's own (tests/support/redis_server.py); the database is the
instance's SQLite file. What the test client cannot show: each worker process notices the
outage on its own, logs it once and no traceback, and probes Redis from a thread after fork.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_account_security import (
    PASSWORD,
    TIMEOUT_SECONDS,
    WRONG,
    create_user,
    sign_in,
    unique_email,
)
from tests.support.live_browser import Browser
from tests.support.live_server import LiveServer, live_server
from tests.support.redis_server import RedisServer, redis_server

DEADLINE_SECONDS = 15.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, own_redis: RedisServer) -> Iterator[LiveServer]:
    workdir = tmp_path / "instance"
    workdir.mkdir()
    with live_server(workdir, AUTHSERVER_REDIS_URL=own_redis.url) as running:
        yield running


def logged_outages(server: LiveServer) -> tuple[int, int]:
    """How many WARNINGs that Redis is unreachable, and how many INFOs that it is back."""
    records = server.log_records()

    def count(level: str, text: str) -> int:
        return sum(r.get("level") == level and text in str(r.get("message")) for r in records)

    return count("WARNING", "Redis unreachable"), count("INFO", "Redis answers again")


def readiness(browser: Browser, server: LiveServer) -> tuple[int, str]:
    answer = browser.http.get(server.url("/readyz"), timeout=TIMEOUT_SECONDS)
    return answer.status_code, str(answer.json()["status"])


def test_people_sign_in_through_a_redis_outage_and_each_worker_logs_it_once(
    server: LiveServer, own_redis: RedisServer
) -> None:
    email = unique_email("outage")
    create_user(server, email)
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as before:
        assert sign_in(before, server, email, PASSWORD).status_code == 200
        own_redis.stop()

        for _ in range(6):  # enough sign-ins for both workers to meet the outage
            with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as during:
                account = sign_in(during, server, email, PASSWORD)
                assert account.status_code == 200 and email in account.text
        assert before.open(server.url("/account")).status_code == 200
        deadline = time.monotonic() + DEADLINE_SECONDS  # a worker yet to notice probes first
        while (ready := readiness(before, server)) != (200, "degraded"):
            assert ready[0] == 200 and time.monotonic() < deadline, ready

        own_redis.start()
        assert before.open(server.url("/account")).status_code == 200
        # Each worker that saw the outage says once that Redis is back, after a request of its.
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (counts := logged_outages(server))[1] < counts[0]:
            assert time.monotonic() < deadline, server.log()
            with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as after:
                # An unknown account: no lock, so no lock-notice mail in the log.
                assert sign_in(after, server, unique_email("nobody"), WRONG).status_code == 401

    assert 1 <= counts[0] <= 2, server.log()  # one per worker process at most
    assert server.error_lines() == [], server.log()
    assert "Traceback" not in server.log()

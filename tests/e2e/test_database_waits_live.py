"""A live gevent worker on PostgreSQL: a request waiting for the database waits alone.

One gevent worker serves many requests at once, each in a greenlet. A greenlet waiting for
PostgreSQL (a lock another transaction holds, a slow query) must let the others run; if the
driver waited in C without yielding, the whole worker would stop until the database answered:
20 refreshes of one token at once hung for seconds that way, the first holding the family's
row lock while the second, waiting for it, froze the worker that would have released it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_postgres_database_or_skip
from tests.support.live_server import LiveServer, one_worker_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.services]

WAITING_DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.05
PROBE_TIMEOUT_SECONDS = 2.0  # a free worker answers /healthz in milliseconds
CLIENT_TIMEOUT_SECONDS = 30


@pytest.fixture
def database_and_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, LiveServer]]:
    with (
        fresh_postgres_database_or_skip(request) as url,
        one_worker_live_server(tmp_path, url, AUTHSERVER_WORKER_CLASS="gevent") as server,
    ):
        yield url, server


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def client_credentials_request(server: LiveServer) -> requests.Response:
    return requests.post(
        server.url("/oauth/token"),
        data={"grant_type": "client_credentials"},
        auth=("some-client", "some-secret"),
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def requests_waiting_for_a_lock(holder: psycopg.Connection) -> int:
    row = holder.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0]) if row else 0


def test_a_request_waiting_for_a_lock_leaves_the_worker_free(
    database_and_server: tuple[str, LiveServer],
) -> None:
    url, server = database_and_server
    # Once without the lock, so that the worker holds a pooled connection: the test is about a
    # query waiting, not a connection being made.
    assert client_credentials_request(server).status_code == 401
    answers: list[requests.Response] = []
    with psycopg.connect(libpq_url(url)) as holder, psycopg.connect(libpq_url(url)) as watcher:
        # The token endpoint looks the client up; this holds that table until we let go.
        holder.execute("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(
            target=lambda: answers.append(client_credentials_request(server))
        )
        waiting.start()
        try:
            deadline = time.monotonic() + WAITING_DEADLINE_SECONDS
            while requests_waiting_for_a_lock(watcher) == 0:
                assert time.monotonic() < deadline, "the request never reached the lock"
                time.sleep(POLL_SECONDS)

            started = time.monotonic()
            try:
                probe = requests.get(server.url("/healthz"), timeout=PROBE_TIMEOUT_SECONDS)
            except requests.Timeout:
                pytest.fail("the worker stopped answering while one request waited for a lock")
            probe_seconds = time.monotonic() - started
            still_waiting = requests_waiting_for_a_lock(watcher)
        finally:
            holder.rollback()  # let go: the waiting request goes on
            waiting.join(timeout=CLIENT_TIMEOUT_SECONDS)

    assert probe.status_code == 200
    assert probe_seconds < 1.0, f"/healthz took {probe_seconds:.3f} s behind a waiting request"
    assert still_waiting == 1  # the probe was answered while the other request still waited
    [answer] = answers
    assert answer.status_code == 401, answer.text  # then answered: no such client

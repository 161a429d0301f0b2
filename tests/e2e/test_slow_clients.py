"""`authserver serve` against slow and stuck clients, and its workers' lifecycle (issue 10, §1).

No reverse proxy in front: the server itself must keep answering while connections trickle,
end a request that overruns its time limit, and reload and replace workers as gunicorn does.
Everything is on 127.0.0.1; every socket is closed and the server stopped by its PID.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bench.slow_clients import healthz_seconds, slow_clients
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

SLOW_CONNECTIONS = 120
TRICKLE_SECONDS = 2.0  # one header line or body byte per connection this often
HEALTHZ_DEADLINE_SECONDS = 1.0
REQUEST_TIME_LIMIT_SECONDS = 5  # AUTHSERVER_WORKER_TIMEOUT in the stuck-request test
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The default `serve` (AUTHSERVER_WORKERS=2, the default worker class)."""
    with live_server(tmp_path_factory.mktemp("slow")) as server:
        yield server


def _host_port(server: LiveServer) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def test_healthz_answers_within_a_second_while_120_slow_clients_are_open(
    served: LiveServer,
) -> None:
    host, port = _host_port(served)
    with slow_clients(host, port, SLOW_CONNECTIONS, TRICKLE_SECONDS) as clients:
        times = []
        # Probe until the slow connections have trickled twice, so every probe meets them open
        # and mid-request (slow heads unfinished, slow bodies announced and partly sent).
        deadline = time.monotonic() + WAIT_SECONDS
        while clients.ticks < 2 and time.monotonic() < deadline:
            times.append(healthz_seconds(host, port, HEALTHZ_DEADLINE_SECONDS))
        open_at_the_end = clients.open_count

    assert clients.ticks >= 2
    assert len(times) >= 3
    assert None not in times, f"/healthz missed its {HEALTHZ_DEADLINE_SECONDS}s deadline: {times}"
    assert open_at_the_end == SLOW_CONNECTIONS  # the server did not shed them to cope


def _send_a_body_that_never_completes(host: str, port: int) -> socket.socket:
    conn = socket.create_connection((host, port), timeout=WAIT_SECONDS)
    conn.sendall(
        b"POST /oauth/token HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
        b"grant_type=client_credentials&client_id="
    )
    return conn


def _read_response(conn: socket.socket) -> tuple[http.client.HTTPResponse, bytes]:
    """The server's answer on ``conn`` (the socket's timeout bounds each read)."""
    response = http.client.HTTPResponse(conn)
    response.begin()
    return response, response.read()


def test_a_request_past_its_time_limit_is_ended_and_the_server_keeps_serving(
    tmp_path: Path,
) -> None:
    limit = str(REQUEST_TIME_LIMIT_SECONDS)
    with live_server(tmp_path, AUTHSERVER_WORKER_TIMEOUT=limit) as server:
        host, port = _host_port(server)
        started = time.monotonic()
        with _send_a_body_that_never_completes(host, port) as stuck:
            # The other requests of that worker, and of the other one, are served meanwhile.
            assert requests.get(server.url("/healthz"), timeout=5).status_code == 200
            response, body = _read_response(stuck)
        took = time.monotonic() - started

        assert (response.status, response.headers["Retry-After"]) == (503, "5")
        assert json.loads(body)["error"] == "temporarily_unavailable"
        assert REQUEST_TIME_LIMIT_SECONDS <= took < REQUEST_TIME_LIMIT_SECONDS + 10
        assert requests.get(server.url("/healthz"), timeout=5).status_code == 200
        [ended] = [r for r in server.log_records() if r["logger"] == "authserver.serving"]
        assert (ended["level"], ended["message"]) == (
            "WARNING",
            f"request ended at the {limit} s time limit: POST /oauth/token",
        )
        assert server.error_lines() == []


def _workers(server: LiveServer) -> set[int]:
    """gunicorn's worker processes: the children of its master."""
    assert server.pid is not None
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
    return {int(pid) for pid in children.split()}


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    *,
    while_serving: LiveServer,
    answer_within: float = 5,
) -> None:
    """Wait for ``condition``, asking /healthz all along: every answer must be a 200."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT_SECONDS}s")
        answer = requests.get(while_serving.url("/healthz"), timeout=answer_within)
        assert answer.status_code == 200


def test_reload_replaces_every_worker_without_refusing_a_request(served: LiveServer) -> None:
    assert served.pid is not None
    before = _workers(served)
    assert len(before) == 2

    os.kill(served.pid, signal.SIGHUP)  # gunicorn's graceful reload

    _wait_for(
        lambda: len(after := _workers(served)) == 2 and not after & before,
        "a new set of workers",
        while_serving=served,
    )


def test_a_killed_worker_is_replaced(served: LiveServer) -> None:
    before = _workers(served)
    victim = min(before)

    os.kill(victim, signal.SIGKILL)

    _wait_for(
        lambda: len(after := _workers(served)) == 2 and victim not in after,
        "a replacement worker",
        while_serving=served,
    )


def test_workers_are_recycled_after_their_max_requests(tmp_path: Path) -> None:
    with live_server(tmp_path, AUTHSERVER_MAX_REQUESTS="10") as server:
        first = _workers(server)

        _wait_for(
            lambda: bool(_workers(server) - first),
            "a worker recycled after 10 (+1 jitter) requests",
            while_serving=server,
            # Both workers may reach their 10 requests together; a request then waits in the
            # listen queue until a fresh worker has loaded the app (seconds on a busy machine).
            answer_within=WAIT_SECONDS,
        )

        assert len(_workers(server)) <= 3  # the old one may still be finishing its request
        assert server.error_lines() == []

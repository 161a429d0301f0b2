"""A live `authserver serve` whose PostgreSQL goes away (cut, then unanswering) and comes back.

The server reaches a database of its own through a TCP proxy the test cuts and restores
(tests/support/tcp_proxy.py); the machine's PostgreSQL is never touched. One worker, so that
"one WARNING and one INFO per process per outage" can be counted from the log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_postgres_database_or_skip
from tests.support.live_server import LiveServer, one_worker_live_server
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.services]

BUDGET_SECONDS = 2.0
RECOVERY_DEADLINE_SECONDS = 20.0
POLL_SECONDS = 0.1
CLIENT_TIMEOUT_SECONDS = 10


@pytest.fixture
def proxied_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LiveServer, TcpProxy]]:
    with fresh_postgres_database_or_skip(request) as url:
        database = make_url(url)
        with TcpProxy((database.host or "127.0.0.1", database.port or 5432)) as proxy:
            through = database.set(host="127.0.0.1", port=proxy.port)
            with one_worker_live_server(
                tmp_path, through.render_as_string(hide_password=False)
            ) as server:
                yield server, proxy


def _timed(call: str, server: LiveServer, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    if call == "post":
        response = requests.post(
            server.url(path),
            data={"grant_type": "client_credentials"},
            auth=("some-client", "some-secret"),
            timeout=CLIENT_TIMEOUT_SECONDS,
        )
    else:
        cookies = {"authserver_session": "a-session-token-to-look-up"} if path == "/account" else {}
        response = requests.get(
            server.url(path),
            cookies=cookies,
            timeout=CLIENT_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    return response, time.monotonic() - started


def _during_outage(server: LiveServer) -> dict[str, list[tuple[requests.Response, float]]]:
    answers: dict[str, list[tuple[requests.Response, float]]] = {
        "token": [], "introspect": [], "page": [], "readyz": [], "jwks": [], "discovery": []
    }  # fmt: skip
    for _ in range(3):
        answers["token"].append(_timed("post", server, "/oauth/token"))
        answers["introspect"].append(_timed("post", server, "/oauth/introspect"))
        answers["page"].append(_timed("get", server, "/account"))
        answers["readyz"].append(_timed("get", server, "/readyz"))
        answers["jwks"].append(_timed("get", server, "/.well-known/jwks.json"))
        answers["discovery"].append(_timed("get", server, "/.well-known/openid-configuration"))
    return answers


def _wait_until_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if requests.get(server.url("/readyz"), timeout=CLIENT_TIMEOUT_SECONDS).status_code == 200:
            return
        time.sleep(POLL_SECONDS)
    pytest.fail(f"/readyz did not answer 200 within {RECOVERY_DEADLINE_SECONDS}s")


def _assert_answered_unavailable(answers: dict[str, list[tuple[requests.Response, float]]]) -> None:
    for name in ("token", "introspect"):
        for response, seconds in answers[name]:
            assert response.status_code == 503, (name, response.text)
            assert int(response.headers["Retry-After"]) > 0
            assert response.json()["error"] == "temporarily_unavailable"
            assert seconds < BUDGET_SECONDS, (name, seconds)
    for response, seconds in answers["page"]:
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["X-Request-ID"] in response.text
        assert seconds < BUDGET_SECONDS, ("page", seconds)
    assert [r.status_code for r, _s in answers["readyz"]] == [503, 503, 503]
    assert max(seconds for _r, seconds in answers["readyz"]) < BUDGET_SECONDS
    assert [r.status_code for r, _s in answers["jwks"]] == [200, 200, 200]
    assert [r.status_code for r, _s in answers["discovery"]] == [200, 200, 200]


def test_a_live_server_rides_out_a_cut_and_an_unanswering_database(
    proxied_server: tuple[LiveServer, TcpProxy],
) -> None:
    server, proxy = proxied_server
    assert requests.get(server.url("/readyz"), timeout=CLIENT_TIMEOUT_SECONDS).status_code == 200
    assert _timed("get", server, "/.well-known/jwks.json")[0].status_code == 200
    assert _timed("get", server, "/.well-known/openid-configuration")[0].status_code == 200

    outages = []
    for blackhole in (False, True):
        proxy.cut(blackhole=blackhole)
        outages.append(_during_outage(server))
        proxy.restore()
        _wait_until_ready(server)
        # Recovered without a restart: the database answers (an unknown client is a 401).
        assert _timed("post", server, "/oauth/token")[0].status_code == 401

    for answers in outages:
        _assert_answered_unavailable(answers)
    records = server.log_records()
    outage_lines = [r for r in records if r["logger"] == "authserver.outages"]
    assert [r["level"] for r in outage_lines] == ["WARNING", "INFO", "WARNING", "INFO"]
    assert len({r["pid"] for r in outage_lines}) == 1
    assert server.error_lines() == []
    assert "Traceback" not in server.log()
    # Besides the outage's own two lines, nothing louder than a request line (the start-up
    # warning about development secrets aside).
    louder = [
        r
        for r in records
        if r["level"] not in ("INFO", "DEBUG")
        and r["logger"] != "authserver.outages"
        and not r["message"].startswith("configuration:")
    ]
    assert louder == [], louder

"""Password hashing must not freeze a gevent worker (issue 10, §1).

argon2id spends a deliberate tenth of a second or more of CPU per sign-in. Under gunicorn's
gevent worker (`serve`'s default) that CPU must not be spent on the event loop, or every other
request of the worker (health checks, token requests, key fetches) waits for every sign-in in
flight. One worker, so every request meets the same event loop.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.live_browser import Browser
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

SIGN_INS = 6
TIMEOUT_SECONDS = 60
# Costlier than the default, so one hash clearly outlasts the scheduling noise of a busy machine.
ARGON2_TIME_COST = "8"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("hashing"),
        AUTHSERVER_WORKERS="1",
        AUTHSERVER_ARGON2_TIME_COST=ARGON2_TIME_COST,
    ) as server:
        yield server


def _sign_in_page(server: LiveServer) -> tuple[Browser, requests.Response]:
    browser = Browser(server.base_url, timeout=TIMEOUT_SECONDS)
    return browser, browser.open(server.url("/login"))


def _sign_in(browser: Browser, page: requests.Response) -> float:
    """Seconds a sign-in with an unknown address takes (it verifies against the dummy hash)."""
    started = time.monotonic()
    answer = browser.submit(page, email=f"{secrets.token_hex(6)}@example.test", password="x" * 20)
    assert answer.status_code == 401, answer.text
    return time.monotonic() - started


def _probe_seconds(server: LiveServer, path: str) -> float:
    started = time.monotonic()
    assert requests.get(server.url(path), timeout=TIMEOUT_SECONDS).status_code == 200
    return time.monotonic() - started


def test_other_requests_are_served_while_sign_ins_hash_passwords(served: LiveServer) -> None:
    # Warm up (the first sign-in also makes the dummy hash), then time one sign-in alone.
    browser, page = _sign_in_page(served)
    with browser:
        _sign_in(browser, page)
        page = browser.open(served.url("/login"))
        one_sign_in = _sign_in(browser, page)

    pages = [_sign_in_page(served) for _ in range(SIGN_INS)]
    probes: list[float] = []
    try:
        with ThreadPoolExecutor(SIGN_INS) as pool:
            running = [pool.submit(_sign_in, browser, page) for browser, page in pages]
            while not all(sign_in.done() for sign_in in running):
                probes.append(_probe_seconds(served, "/healthz"))
                probes.append(_probe_seconds(served, "/.well-known/jwks.json"))
            sign_ins = [sign_in.result() for sign_in in running]
    finally:
        for browser, _ in pages:
            browser.__exit__(None, None, None)

    # The sign-ins overlapped the probes: together they took several hashes' time.
    assert max(sign_ins) > one_sign_in
    # A blocked loop makes a probe wait for the hashes ahead of it: up to SIGN_INS of them.
    assert max(probes) < one_sign_in / 2, (one_sign_in, sorted(probes))
    assert len(probes) >= 4  # so they were answered all along
    assert served.error_lines() == []

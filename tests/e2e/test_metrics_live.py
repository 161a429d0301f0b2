"""Metrics under a real `authserver serve`: two gunicorn workers, one scrape that counts both.

The workers keep their values in files (one per process) in the folder `serve` makes; the test
reads each worker's file with prometheus-client's own collector to see that both served
requests, then checks that a single scrape, answered by one of them, counts every request;
and that a worker which ends (gunicorn's child_exit hook runs) leaves its counts in the sum.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.live_server import LiveServer, live_server
from tests.support.metrics import METRICS_TOKEN, Scrape, bearer

pytestmark = pytest.mark.e2e

JWKS = "/.well-known/jwks.json"
JWKS_ENDPOINT = "keys.jwks"
BATCH = 40
MAX_BATCHES = 25  # 1000 requests at most; two idle sync workers share a batch at once in practice
THREADS = 8
RESPAWN_DEADLINE_SECONDS = 30


def metrics_folder(tmp: Path) -> Path:
    [folder] = tmp.glob("authserver-metrics-*")
    return folder


def jwks_requests_by_worker(folder: Path, scratch: Path) -> dict[str, float]:
    """Each worker's own count of JWKS requests, read from its file alone."""
    counts = {}
    for counter_file in sorted(folder.glob("counter_*.db")):
        alone = scratch / counter_file.stem
        alone.mkdir(exist_ok=True)
        shutil.copy(counter_file, alone / counter_file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[counter_file.stem] = sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "authserver_http_requests_total"
            and sample.labels.get("endpoint") == JWKS_ENDPOINT
        )
    return counts


def scraped_jwks_requests(server: LiveServer) -> float:
    response = requests.get(server.url("/metrics"), headers=bearer(), timeout=10)
    assert response.status_code == 200
    return Scrape.parse(response.text).value(
        "authserver_http_requests_total", endpoint=JWKS_ENDPOINT, status_class="2xx"
    )


def worker_pids(folder: Path) -> set[int]:
    return {int(path.stem.removeprefix("counter_")) for path in folder.glob("counter_*.db")}


def send_jwks_requests(server: LiveServer, count: int) -> None:
    def fetch(_: int) -> int:
        return requests.get(server.url(JWKS), timeout=10).status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert list(pool.map(fetch, range(count))) == [200] * count


def test_one_scrape_counts_the_requests_of_every_worker(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "served").mkdir()
    with live_server(
        tmp_path / "served", AUTHSERVER_METRICS_TOKEN=METRICS_TOKEN, TMPDIR=str(tmp)
    ) as server:
        folder = metrics_folder(tmp)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        sent = 0
        for _ in range(MAX_BATCHES):
            send_jwks_requests(server, BATCH)
            sent += BATCH
            by_worker = jwks_requests_by_worker(folder, scratch)
            if sum(1 for count in by_worker.values() if count > 0) >= 2:
                break
        assert sum(1 for count in by_worker.values() if count > 0) == 2, by_worker

        response = requests.get(server.url("/metrics"), headers=bearer(), timeout=10)

        assert response.status_code == 200
        scraped = Scrape.parse(response.text).value(
            "authserver_http_requests_total", endpoint=JWKS_ENDPOINT, status_class="2xx"
        )
        assert scraped == sent == sum(by_worker.values())
        ages = Scrape.parse(response.text).series("authserver_signing_key_age_seconds")
        assert len(ages) == 3  # one active key per algorithm, read from the database
        assert server.error_lines() == []
    # gunicorn's on_exit hook removes the folder when the server stops.
    assert not folder.exists()


def test_a_worker_that_ends_keeps_its_counts_in_the_sum(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "served").mkdir()
    with live_server(
        tmp_path / "served", AUTHSERVER_METRICS_TOKEN=METRICS_TOKEN, TMPDIR=str(tmp)
    ) as server:
        folder = metrics_folder(tmp)
        send_jwks_requests(server, BATCH)
        before = worker_pids(folder)
        by_worker = jwks_requests_by_worker(folder, scratch)
        ending = next(pid for pid in sorted(before) if by_worker[f"counter_{pid}"] > 0)

        # A worker we started (through `serve`), ended by its PID: gunicorn replaces it and
        # runs the child_exit hook for it.
        os.kill(ending, signal.SIGTERM)
        deadline = time.monotonic() + RESPAWN_DEADLINE_SECONDS
        while len(worker_pids(folder) - before) == 0 and time.monotonic() < deadline:
            requests.get(server.url("/healthz"), timeout=10)
            time.sleep(0.2)

        assert worker_pids(folder) - before, "no replacement worker started"
        assert scraped_jwks_requests(server) == BATCH
        assert server.error_lines() == []
    # gunicorn's on_exit hook removes the folder when the server stops.
    assert not folder.exists()

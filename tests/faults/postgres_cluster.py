"""The machine's PostgreSQL cluster, stopped and started by the PostgreSQL-restart scenario.

    with postgres_outage() as outage:      # the cluster is stopped when the block starts
        ...                                # (load goes on)
        outage.start()                     # started again, and answering

The cluster is started again when the block ends whatever happened inside it, so a failing
test never leaves the machine without its database. Only the scenario that needs it uses this.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CONTROL_TIMEOUT_SECONDS = 60
READY_DEADLINE_SECONDS = 30
POLL_SECONDS = 0.1
HOST, PORT = "127.0.0.1", "5432"


def cluster_version() -> str:
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    if len(versions) != 1:
        pytest.fail(f"expected one PostgreSQL version in /etc/postgresql, found {versions}")
    return versions[0]


def control(action: str) -> None:
    result = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster_version(), "main", action],
        capture_output=True,
        text=True,
        timeout=CONTROL_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        pytest.fail(f"pg_ctlcluster {action} exited {result.returncode}: {result.stderr}")


def is_ready() -> bool:
    probe = ["pg_isready", "-q", "-h", HOST, "-p", PORT]
    return subprocess.run(probe, timeout=10).returncode == 0


def wait_until_ready() -> float:
    """Wait until PostgreSQL accepts connections; returns when (time.monotonic())."""
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if is_ready():
            return time.monotonic()
        time.sleep(POLL_SECONDS)
    pytest.fail(f"PostgreSQL did not answer within {READY_DEADLINE_SECONDS}s of its start")


@dataclass
class Outage:
    stop_requested_at: float  # time.monotonic() when the stop was asked for: going down
    stopped_at: float  # when `stop` returned: down from here
    start_requested_at: float | None = None  # down until here at least
    answering_at: float | None = None  # answering again from here

    def start(self) -> None:
        if self.answering_at is not None:
            return
        self.start_requested_at = time.monotonic()
        control("start")
        self.answering_at = wait_until_ready()


@contextmanager
def postgres_outage() -> Iterator[Outage]:
    if not is_ready():
        pytest.fail("the machine's PostgreSQL is not running before the outage")
    outage: Outage | None = None
    try:
        stop_requested_at = time.monotonic()
        control("stop")
        outage = Outage(stop_requested_at, stopped_at=time.monotonic())
        yield outage
    finally:
        # Always: a failed test must not leave the machine without its database.
        if outage is not None:
            outage.start()
        elif not is_ready():
            control("start")
            wait_until_ready()

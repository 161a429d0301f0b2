"""A `redis-server` of the suite's own: 127.0.0.1, a free port, no persistence, a temp dir.

Stopping it and starting it again on the same port is the Redis outage of the suite; like a
restart of a cache without persistence, the second start has none of the first one's keys.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.live_server import free_port

START_DEADLINE_SECONDS = 10
POLL_SECONDS = 0.05


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on this server's port; returns once it answers PING."""
        with (self.workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                    "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited ({self.process.returncode}), see {self.workdir}")
            if self.answers():
                return
            time.sleep(POLL_SECONDS)
        pytest.fail(f"redis-server did not answer within {START_DEADLINE_SECONDS}s")

    def stop(self) -> None:
        """Stop it by its PID (SIGTERM; SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        client = redis.Redis(port=self.port, host="127.0.0.1", socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

"""A redis-server of the test's own, to stop and restart under a running app.

    with redis_server(tmp_path / "redis") as server:   # started; answers PING
        app = make_app(redis_url=server.url)
        server.stop()                                   # by PID; the port is kept
        server.start()                                  # a fresh, empty Redis on the same port

It listens on 127.0.0.1 only, keeps nothing on disk (no RDB, no AOF) and works in its own
folder. Whatever happens in the test, the process is stopped by its PID when the block ends.
Tests using it need no service variable, so they run in every pass (marked nowhere).

:func:`blackholed_port` is the other kind of outage: a port whose connections are never
accepted, as with a Redis host that drops packets, so every call waits for its deadline.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis

from tests.support.live_server import free_port

STARTUP_DEADLINE_SECONDS = 10.0
STOP_DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.02


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, empty) and wait until it answers PING."""
        assert self.process is None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        # `--save ""` and `--appendonly no`: a restart comes back empty, like a crashed cache.
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start on port {self.port}", pytrace=False)
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop it by its PID and wait until it is gone (killed if it lingers)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_DEADLINE_SECONDS)

    def answers(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def blackholed_port() -> Iterator[int]:
    """A loopback port that never completes a connection: the listener's queue is kept full.

    A listening socket with a backlog of 0 that never accepts: once a connection or two wait
    in its queue, the kernel drops further SYNs, so a client's connect waits for its timeout.
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()

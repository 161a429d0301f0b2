"""`authserver serve` instances the fault suite starts, kills and stops, each by its own PID.

Each instance runs in a process group of its own (a new session), so that "kill the instance"
can mean what it means when a machine dies: the server and all its workers at once, by the
group of the PID we started, touching no other process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from authserver.serving.background_work import READY_MESSAGE
from tests.support.live_server import AUTHSERVER, STARTUP_DEADLINE_SECONDS, parse_log_line, stop

POLL_SECONDS = 0.1


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole instance (its group: the server and its workers), as a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)  # the workers die with the group, a moment later

    def stop(self) -> None:
        """A graceful stop by PID; then anything left in its group is killed."""
        stop(self.process)
        with contextlib.suppress(ProcessLookupError):  # gone: the workers ended with the server
            os.killpg(self.process.pid, signal.SIGKILL)


def start_instance(name: str, port: int, env: Mapping[str, str], workdir: Path) -> Instance:
    """Start `authserver serve` on 127.0.0.1:port and wait until every worker is ready (with
    the database up, it has built the JWKS it serves from memory) and /healthz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [AUTHSERVER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=dict(env),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Instance(name, port, process, log_path)
    try:
        wait_until_healthy(instance, workers=int(env["AUTHSERVER_WORKERS"]))
    except BaseException:
        instance.stop()
        raise
    return instance


def wait_until_healthy(instance: Instance, *, workers: int) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"{instance.name} exited early:\n{instance.log()}")
        if _workers_ready(instance) < workers:
            time.sleep(POLL_SECONDS)
            continue
        try:
            if requests.get(instance.url("/healthz"), timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass  # still starting: gunicorn binds before a worker has imported the app
        time.sleep(POLL_SECONDS)
    pytest.fail(f"{instance.name} did not answer within {STARTUP_DEADLINE_SECONDS}s")


def _workers_ready(instance: Instance) -> int:
    lines = (parse_log_line(line) for line in instance.log().splitlines())
    return sum(1 for line in lines if line and line.get("message") == READY_MESSAGE)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True

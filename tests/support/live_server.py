"""A real `authserver serve` (gunicorn) on a free loopback port, for the tests in tests/e2e.

    with live_server(tmp_path) as server:        # `authserver init`, then `serve`, /healthz answers
        server.cli_json("user", "create", ...)   # the CLI against the same instance and database
        requests.get(server.url("/healthz"), timeout=5)

Every process gets an isolated instance folder and no inherited AUTHSERVER_* variables. The
server's issuer is its own URL, so discovery and token `iss` values match what clients call.
Every wait is bounded; the server is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.command_process import run_command
from tests.support.databases import fresh_postgres_database

AUTHSERVER = str(Path(sys.executable).parent / "authserver")
STARTUP_DEADLINE_SECONDS = 30
SHUTDOWN_GRACE_SECONDS = 20
CLI_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.2
# The server writes JSON lines (ours and gunicorn's). A line that is not JSON (a console-backend
# mail, a crash before logging was set up) means something went wrong when it looks like this.
ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")
ERROR_LEVELS = ("ERROR", "CRITICAL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(workdir: Path, **settings: str) -> dict[str, str]:
    """The caller's environment minus every AUTHSERVER_* variable, plus an instance of its own."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    return {
        **inherited,
        "AUTHSERVER_INSTANCE_PATH": str(workdir / "instance"),
        "AUTHSERVER_WORKERS": "2",
        # A module signs in more often than the default 10/minute per IP allows, and without
        # Redis each worker counts on its own, so a tight default fails at random. Tests of the
        # limits themselves pass their own values, which win.
        "AUTHSERVER_RATELIMIT_SIGNIN": "1000/minute",
        "AUTHSERVER_RATELIMIT_MFA": "1000/minute",
        "AUTHSERVER_RATELIMIT_RESET": "1000/minute",
        # Mail (a new-device notice at a module's second browser, say) goes to files under the
        # instance: the console backend would print it into the server log, which tests read
        # as JSON lines. Tests that read the mail pass their own backend.
        "AUTHSERVER_MAIL_BACKEND": "file",
        **settings,
    }


def run_cli(
    env: Mapping[str, str], workdir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `authserver ARGS...` as an operator would; fail the test (with stderr) on non-zero."""
    result = run_command(
        AUTHSERVER, args, env=env, cwd=workdir, stdin=stdin, timeout=CLI_TIMEOUT_SECONDS
    )
    if result.returncode != 0:
        pytest.fail(f"`authserver {' '.join(args)}` exited {result.returncode}:\n{result.stderr}")
    return result


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    env: Mapping[str, str]
    workdir: Path
    log_path: Path
    # gunicorn's master (`serve` execs it), for tests that signal it or look at its workers.
    pid: int | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, self.workdir, *args, stdin=stdin)

    def cli_json(self, *args: str, stdin: str | None = None) -> Any:  # Any: the command's JSON
        return json.loads(self.cli(*args, "--json", stdin=stdin).stdout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:  # Any: JSON values
        """Every line of the server's output as a JSON object; fails the test on any other."""
        records = []
        for number, line in enumerate(self.log().splitlines(), start=1):
            record = parse_log_line(line)
            if record is None:
                pytest.fail(f"line {number} of the server log is not a JSON object: {line!r}")
            records.append(record)
        return records

    def error_lines(self) -> list[str]:
        """Errors the server logged: an unhandled exception is a 500 some client may not see."""
        return [line for line in self.log().splitlines() if is_error_line(line)]


def parse_log_line(line: str) -> dict[str, Any] | None:  # Any: JSON values
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def is_error_line(line: str) -> bool:
    record = parse_log_line(line)
    if record is None:
        return ERROR_LINE.search(line) is not None
    return record.get("level") in ERROR_LEVELS or "exception" in record


@contextmanager
def live_server(
    workdir: Path, *, issuer: str | None = None, host_name: str = "127.0.0.1", **settings: str
) -> Iterator[LiveServer]:
    """Initialise an instance in `workdir`, serve it on a free port, stop it afterwards.

    `settings` are extra AUTHSERVER_* variables (AUTHSERVER_DATABASE_URL, ...). `issuer` is
    for a server behind a proxy (tests/gateway): clients then call that URL, while `base_url`
    stays the server's own address, where the test checks that it is up. `host_name` is the
    name the server is reached by (it listens on 127.0.0.1 either way): WebAuthn needs a
    domain, so the passkey tests use "localhost".
    """
    port = free_port()
    base_url = f"http://{host_name}:{port}"
    # gevent workers keep connections alive, and a graceful stop waits for the idle ones until
    # the graceful timeout (25 s by default, longer than stop()'s patience): HTTP clients in
    # this process may keep one open. A test of the timeout itself passes its own value.
    settings = {"AUTHSERVER_GRACEFUL_TIMEOUT": "5", **settings}
    env = server_environment(workdir, AUTHSERVER_ISSUER=issuer or base_url, **settings)
    run_cli(env, workdir, "init")
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [AUTHSERVER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        server = LiveServer(
            base_url=base_url, env=env, workdir=workdir, log_path=log_path, pid=process.pid
        )
        wait_until_serving(server, process)
        yield server
    finally:
        stop(process)


@contextmanager
def live_server_on(backend: str, workdir: Path, **settings: str) -> Iterator[LiveServer]:
    """A live server on `backend` (``backends()``: "sqlite", or "postgresql" on a database of
    its own, dropped afterwards). When the block ends without an exception, the server's log
    must hold no error: every failure a client saw was asserted on, anything logged was not."""
    with ExitStack() as stack:
        if backend == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    assert running.error_lines() == [], running.log()


@contextmanager
def one_worker_live_server(
    workdir: Path, database_url: str, **settings: str
) -> Iterator[LiveServer]:
    """:func:`live_server` on ``database_url`` with a single worker, so that what one process
    does (its waits, its log lines) is what the whole server does."""
    with live_server(
        workdir, AUTHSERVER_DATABASE_URL=database_url, AUTHSERVER_WORKERS="1", **settings
    ) as server:
        yield server


def wait_until_serving(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early ({process.returncode}):\n{server.log()}")
        try:
            requests.get(server.url("/healthz"), timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):
            # gunicorn accepts connections as soon as it binds; until a worker has imported the
            # app, a request waits in the backlog and times out. Neither means a failure yet.
            time.sleep(POLL_INTERVAL_SECONDS)
    pytest.fail(f"server did not answer within {STARTUP_DEADLINE_SECONDS}s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn's graceful shutdown) by PID; SIGKILL if it has not ended in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)

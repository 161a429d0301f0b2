"""Starting and stopping the servers under test, on loopback, by PID.

authserver runs exactly as in production: `authserver serve` (gunicorn's gevent worker on
wsgi:app, the worker count from AUTHSERVER_WORKERS). Other worker classes are given to the same
command through GUNICORN_CMD_ARGS, which gunicorn reads itself. The ceiling app gets the same
gunicorn argv, and so does the protocol ceiling app (its file of keys and clients named in its
environment).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authserver.cli.serve_command import gunicorn_argv
from bench.http import Client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AUTHSERVER = str(BIN / "authserver")
STARTUP_DEADLINE_SECONDS = 60
SHUTDOWN_GRACE_SECONDS = 20
CLI_TIMEOUT_SECONDS = 600


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServerKind:
    """How to serve: ``name`` in reports, gunicorn options, or granian instead of gunicorn."""

    name: str
    gunicorn_args: str = ""
    granian: bool = False
    threads: int = 1


# What `authserver serve` runs by default (AUTHSERVER_WORKER_CLASS is not passed through).
GUNICORN_GEVENT = ServerKind("gunicorn gevent")
GUNICORN_SYNC = ServerKind("gunicorn sync", gunicorn_args="--worker-class sync")
GUNICORN_GTHREAD = ServerKind(
    "gunicorn gthread (4 threads)", gunicorn_args="--worker-class gthread --threads 4", threads=4
)
GRANIAN = ServerKind("granian wsgi (4 threads)", granian=True, threads=4)
# By short name, for the tools that take a list of kinds (bench/slow_clients.py).
SERVER_KINDS = {
    "sync": GUNICORN_SYNC,
    "gthread": GUNICORN_GTHREAD,
    "gevent": GUNICORN_GEVENT,
    "granian": GRANIAN,
}


@dataclass
class Instance:
    """An initialised authserver instance: its environment, folder and database."""

    workdir: Path
    env: dict[str, str]
    port: int
    base_url: str = field(init=False)
    # What seeding made for this instance (clients), for every server started on it.
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [AUTHSERVER, *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"`authserver {args[0]} ...` failed:\n{result.stderr}")
        return result.stdout


# The production knobs the benchmark must honour when the caller sets them: worker count and
# the password-hashing cost (bench/ceilings.py measures the argon2 bound at the same values).
PASSED_THROUGH = (
    "AUTHSERVER_WORKERS",
    "AUTHSERVER_ARGON2_TIME_COST",
    "AUTHSERVER_ARGON2_MEMORY_COST",
    "AUTHSERVER_ARGON2_PARALLELISM",
)


def make_instance(workdir: Path, **settings: str) -> Instance:
    """A fresh instance folder; AUTHSERVER_* from the caller's environment are not inherited,
    except the knobs in PASSED_THROUGH."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    for knob in PASSED_THROUGH:
        if knob in os.environ:
            inherited[knob] = os.environ[knob]
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **inherited,
        "AUTHSERVER_INSTANCE_PATH": str(workdir / "instance"),
        "AUTHSERVER_ISSUER": f"http://127.0.0.1:{port}",
        **settings,
    }
    instance = Instance(workdir=workdir, env=env, port=port)
    instance.cli("init")
    return instance


@dataclass
class RunningServer:
    kind: ServerKind
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def _argv_and_env(
    kind: ServerKind, instance: Instance, app: str, extra_env: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    env = {**instance.env, **(extra_env or {})}
    workers = env.get("AUTHSERVER_WORKERS", "2")
    if kind.granian:
        argv = [
            str(BIN / "granian"),
            "--interface", "wsgi",
            "--host", "127.0.0.1",
            "--port", str(instance.port),
            "--workers", workers,
            "--blocking-threads", str(kind.threads),
            "--working-dir", str(PROJECT_ROOT),
            "--access-log",
            app,
        ]  # fmt: skip
        return argv, env
    if kind.gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = kind.gunicorn_args
    if app == "wsgi:app":
        # The production command itself.
        return [AUTHSERVER, "serve", "--host", "127.0.0.1", "--port", str(instance.port)], env
    argv = gunicorn_argv("127.0.0.1", instance.port, int(workers))
    argv[-1] = app
    return argv, env


@contextmanager
def serving(
    instance: Instance,
    kind: ServerKind = GUNICORN_GEVENT,
    *,
    app: str = "wsgi:app",
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    argv, env = _argv_and_env(kind, instance, app, extra_env)
    log_path = instance.workdir / f"server-{instance.port}-{int(time.time() * 1000)}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=instance.workdir, stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer(kind, process, instance.base_url, log_path)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        stop(process)


def _wait_until_serving(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    client = Client(server.base_url)
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_path.read_text()[-4000:]}")
        try:
            if client.request("GET", "/healthz").status == 200:
                client.close()
                # Every worker must have imported the app before load starts.
                time.sleep(1.0)
                return
        except OSError:
            time.sleep(0.2)
        finally:
            client.close()
    raise RuntimeError(f"server did not answer in {STARTUP_DEADLINE_SECONDS}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful shutdown) by PID; SIGKILL if it has not ended in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)

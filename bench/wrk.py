"""Running wrk with one of our Lua scripts and reading the result line it prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARKER = "BENCH_RESULT "
# A sign-in queued behind a dozen argon2 verifications waits seconds, not wrk's default 2.
REQUEST_TIMEOUT = "15s"
# A run never outlives its duration by more than this (wrk stops by itself; this is the guard).
HARD_LIMIT_GRACE_SECONDS = 60


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_us: int
    bytes: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    ok: int
    unexpected: int
    flows: int

    @property
    def seconds(self) -> float:
        return self.duration_us / 1e6

    @property
    def successes(self) -> int:
        """Requests that got the answer the workload expects."""
        if self.ok or self.unexpected:  # the script looked at every response
            return self.ok
        return self.requests - self.status_errors

    @property
    def failures(self) -> int:
        socket_errors = self.connect_errors + self.read_errors + self.write_errors
        return (self.requests - self.successes) + socket_errors + self.timeouts


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    return found


def run_wrk(
    base_url: str,
    script: str,
    args: list[str],
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
) -> WrkResult:
    argv = [
        wrk_binary(),
        "--threads", str(threads),
        "--connections", str(connections),
        "--duration", f"{max(1, round(seconds))}s",
        "--timeout", REQUEST_TIMEOUT,
        "--script", str(LUA_DIR / script),
        base_url,
        "--",
        *args,
    ]  # fmt: skip
    completed = subprocess.run(
        argv,
        env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)},
        capture_output=True,
        text=True,
        timeout=seconds + HARD_LIMIT_GRACE_SECONDS,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return WrkResult(**json.loads(line[len(RESULT_MARKER) :]))
    raise RuntimeError(
        f"wrk {script} printed no result (exit {completed.returncode}):\n"
        f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
    )


def write_spec(
    path: Path, method: str, target: str, headers: dict[str, str], body: str = ""
) -> Path:
    """A request spec for the Lua scripts (see lua/common.lua); 0600: it may hold secrets."""
    lines = [method, target, *(f"{name}: {value}" for name, value in headers.items())]
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n\n" + body)
    return path

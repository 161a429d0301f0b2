"""The ``authserver`` command in a process of its own, forked from one that has it imported.

The command's start-up is mostly importing the server (Flask, Authlib, SQLAlchemy, the app):
over a second of CPU for each of the hundreds of commands the suite runs, on a two-core CI
machine. A fork server (multiprocessing's ``forkserver``, one per test process) imports
``authserver.cli`` once; each command is then a fork of it, and runs as the installed
``authserver`` would:

- in a new process, with exactly the environment, working folder and stdin it was given;
- its stdout and stderr are its file descriptors 1 and 2, captured to files (what a library
  or a child process writes there is kept too);
- the exit status is what ``sys.exit`` said (Click's); an exception nobody caught prints its
  traceback to stderr and exits 1, as Python does;
- before it exits, non-daemon threads are waited for and ``atexit`` handlers run, as at a
  normal interpreter exit.

The answer is a ``subprocess.CompletedProcess``, and a command past its timeout is killed and
raises ``subprocess.TimeoutExpired``, as ``subprocess.run`` does. Tests of ``serve`` and of the
installed script itself still start the real executable (tests/support/live_server.py).
"""

from __future__ import annotations

import atexit
import io
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

PRELOADED = ["authserver.cli"]
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOADED)


def run_command(
    program: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: str | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """``program ARGS...`` (``program`` is the name it sees as ``sys.argv[0]``), as
    ``subprocess.run(..., capture_output=True, text=True, check=False)`` would run it."""
    with tempfile.TemporaryDirectory(prefix="authserver-command-") as scratch:
        streams = Path(scratch)
        (streams / "stdin").write_text(stdin or "", encoding="utf-8")
        process = _context.Process(
            target=_run_in_child,
            args=(program, list(args), dict(env), str(cwd), scratch),
            name="authserver-command",
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired([program, *args], timeout)
        stdout = (streams / "stdout").read_text(encoding="utf-8", errors="replace")
        stderr = (streams / "stderr").read_text(encoding="utf-8", errors="replace")
    returncode = process.exitcode if process.exitcode is not None else -1
    return subprocess.CompletedProcess([program, *args], returncode, stdout, stderr)


def _run_in_child(
    program: str, args: list[str], env: dict[str, str], cwd: str, streams: str
) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, name, flags in (
        (0, "stdin", os.O_RDONLY),
        (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(os.path.join(streams, name), flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    # New text streams on the new descriptors, as an interpreter starting up would make them.
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.argv = [program, *args]
    code = _exit_status(args)
    # A normal interpreter exit: non-daemon threads first, then the atexit handlers.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _exit_status(args: list[str]) -> int:
    from authserver.cli import main

    try:
        main.main(args=args, prog_name="authserver")
    except SystemExit as exit:
        if exit.code is None:
            return 0
        if isinstance(exit.code, int):
            return exit.code
        print(exit.code, file=sys.stderr)  # sys.exit("message"), as Python reports it
        return 1
    except BaseException:  # what the interpreter does with any exception nobody caught
        traceback.print_exc()
        return 1
    return 0

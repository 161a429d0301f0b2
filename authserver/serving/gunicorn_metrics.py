"""Metrics across gunicorn's worker processes: the shared folder and the master's hooks.

`authserver serve` calls :func:`prepare_multiprocess_dir` before it becomes gunicorn, so the
variable is in the environment before any process imports prometheus-client (which reads it
once, at import; workers are forked from the master and inherit what it imported).

This module is also a gunicorn configuration module (``--config python:<this module>``): gunicorn
takes the hooks below from its globals and runs them in the master.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from authserver.config_sources import METRICS_MULTIPROCESS_VARIABLE, metrics_multiprocess_dir

DIRECTORY_PREFIX = "authserver-metrics-"
OWNER_FILE = "server.pid"  # prometheus-client reads only *.db files, so this one is ignored


def prepare_multiprocess_dir() -> str:
    """A fresh, private (0700) folder for this server's metric files; exported to gunicorn.

    Fresh on every start, so no counts survive from an earlier run (or another server): each
    counter restarts at zero, which Prometheus' rate() handles as a restart. It lives in the
    temporary folder (``TMPDIR``), the one place the container may write.
    """
    remove_orphaned_dirs(Path(tempfile.gettempdir()))
    path = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX)  # mode 0700, a name nobody else has
    # `serve` becomes gunicorn's master (exec), so this process id is the server's.
    (Path(path) / OWNER_FILE).write_text(str(os.getpid()))
    os.environ[METRICS_MULTIPROCESS_VARIABLE] = path
    return path


def remove_orphaned_dirs(folder: Path) -> list[Path]:
    """Remove our folders whose server is gone without its on_exit hook (killed, or the machine
    lost power), so restarts do not pile them up. Only folders of this user with an owner file
    naming a process that no longer exists; a reused process id just keeps a folder longer."""
    removed = []
    for candidate in folder.glob(f"{DIRECTORY_PREFIX}*"):
        try:
            if candidate.stat().st_uid != os.getuid():
                continue
            owner = int((candidate / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours to judge: no owner file (yet), or unreadable
        if not _is_running(owner):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def child_exit(server: Any, worker: Any) -> None:  # Any: gunicorn's Arbiter and Worker
    """A worker ended: drop its live gauges (its counters stay, or totals would go backwards)."""
    from prometheus_client import multiprocess

    path = metrics_multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(worker.pid, path)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:  # Any: gunicorn's Arbiter
    """gunicorn stops: remove the folder `serve` made. A folder without our prefix was chosen by
    whoever ran gunicorn by hand, and is theirs to clean."""
    path = metrics_multiprocess_dir()
    if path is not None and Path(path).name.startswith(DIRECTORY_PREFIX):
        shutil.rmtree(path, ignore_errors=True)

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

from authserver.config import METRICS_MULTIPROCESS_VARIABLE, metrics_multiprocess_dir

DIRECTORY_PREFIX = "authserver-metrics-"


def prepare_multiprocess_dir() -> str:
    """A fresh, private (0700) folder for this server's metric files; exported to gunicorn.

    Fresh on every start, so no counts survive from an earlier run (or another server): each
    counter restarts at zero, which Prometheus' rate() handles as a restart. It lives in the
    temporary folder (``TMPDIR``), the one place the container may write.
    """
    path = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX)  # mode 0700, a name nobody else has
    os.environ[METRICS_MULTIPROCESS_VARIABLE] = path
    return path


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

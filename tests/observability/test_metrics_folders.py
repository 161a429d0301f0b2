"""The metric files' folders of servers that died without cleaning up are removed at the next
start (`authserver serve` -> prepare_multiprocess_dir), and only those."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from authserver.config_sources import METRICS_MULTIPROCESS_VARIABLE
from authserver.serving.gunicorn_metrics import (
    DIRECTORY_PREFIX,
    OWNER_FILE,
    prepare_multiprocess_dir,
    remove_orphaned_dirs,
)


def dead_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def metrics_folder(parent: Path, name: str, owner: int | None) -> Path:
    folder = parent / f"{DIRECTORY_PREFIX}{name}"
    folder.mkdir(mode=0o700)
    (folder / "counter_123.db").write_bytes(b"\0" * 16)
    if owner is not None:
        (folder / OWNER_FILE).write_text(str(owner))
    return folder


def test_only_folders_of_servers_that_are_gone_are_removed(tmp_path: Path) -> None:
    orphaned = metrics_folder(tmp_path, "killed", dead_process_id())
    running = metrics_folder(tmp_path, "running", owner=1)  # init: always there
    starting = metrics_folder(tmp_path, "starting", owner=None)  # owner file not written yet
    unrelated = tmp_path / "someone-elses-metrics"
    unrelated.mkdir()

    removed = remove_orphaned_dirs(tmp_path)

    assert removed == [orphaned]
    assert not orphaned.exists()
    assert running.exists() and starting.exists() and unrelated.exists()


def test_a_garbled_owner_file_keeps_the_folder(tmp_path: Path) -> None:
    folder = metrics_folder(tmp_path, "garbled", owner=None)
    (folder / OWNER_FILE).write_text("not a pid")

    assert remove_orphaned_dirs(tmp_path) == []
    assert folder.exists()


def test_a_start_clears_orphans_and_names_itself_the_owner_of_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # Recorded as unset, so the value prepare_multiprocess_dir exports goes again afterwards.
    monkeypatch.setenv(METRICS_MULTIPROCESS_VARIABLE, "")
    orphaned = metrics_folder(tmp_path, "killed", dead_process_id())

    folder = Path(prepare_multiprocess_dir())

    assert not orphaned.exists()
    assert folder.parent == tmp_path and folder.name.startswith(DIRECTORY_PREFIX)
    assert os.environ[METRICS_MULTIPROCESS_VARIABLE] == str(folder)
    # `serve` then execs gunicorn in this same process, so this pid is the server's.
    assert (folder / OWNER_FILE).read_text() == str(os.getpid())
    assert remove_orphaned_dirs(tmp_path) == []  # its own folder is not an orphan

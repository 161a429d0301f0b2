"""Fixtures for the command-line tests: the installed command, run in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.support.cli import Cli


@pytest.fixture
def cli(app: Flask, tmp_path: Path) -> Cli:
    return Cli(app, tmp_path)

"""The fault suite's fixtures: a deployment per test, a place for the figures.

The suite needs PostgreSQL (AUTHSERVER_TEST_DATABASE_URL, as `make test-faults` sets); it starts
its own Redis. Every scenario's summary line is repeated at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.deployment import Deployment, deployment
from tests.faults.figures import SUMMARIES
from tests.support.databases import POSTGRES_ENV, postgres_server_url


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Deployment]:
    if not postgres_server_url():
        pytest.skip(f"the fault suite needs PostgreSQL: {POSTGRES_ENV} is not set")
    with deployment(tmp_path) as running:
        yield running


@pytest.fixture(scope="session")
def figures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "fault-figures"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARIES:
        terminalreporter.section("fault suite figures")
        for line in SUMMARIES:
            terminalreporter.write_line(line)

"""The browser tests' screenshot folders, listed at the end of the run.

A test names its folder in its report (``user_properties``), and the listing gathers them
from the reports: with pytest-xdist the tests run in worker processes, and only their reports
reach the process that prints the summary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROPERTY = "screenshots"


def record_folder(item: pytest.Item, folder: Path) -> None:
    """Say in ``item``'s report that its screenshots are in ``folder``."""
    if (PROPERTY, str(folder)) not in item.user_properties:
        item.user_properties.append((PROPERTY, str(folder)))


class ScreenshotListing:
    """A plugin: the folders named in the reports, in order, as a section of the summary."""

    def __init__(self) -> None:
        self.folders: dict[str, None] = {}  # a dict keeps the order and drops repeats

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == PROPERTY:
                self.folders.setdefault(str(value))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.folders:
            terminalreporter.section("browser screenshots")
            for folder in self.folders:
                terminalreporter.write_line(folder)

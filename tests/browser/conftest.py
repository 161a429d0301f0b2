"""Fixtures of the browser tests: one live server per database backend, one Chromium, a tab each.

The server (`authserver serve`, gunicorn) mails through an aiosmtpd server on loopback. With
AUTHSERVER_TEST_DATABASE_URL set the tests run again on PostgreSQL, and then also keep the
rate-limit counters in Redis when AUTHSERVER_TEST_REDIS_URL is set. Every test gets a fresh
browser context (no cookies) and a folder for its screenshots, test-artifacts/browser/<test>/,
listed at the end of the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Generator, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from tests.support.chromium import WatchedPage, slug
from tests.support.databases import REDIS_ENV, backends, fresh_postgres_database
from tests.support.live_server import LiveServer, live_server
from tests.support.screenshots import record_folder
from tests.support.smtp import Inbox, smtp_server

ARTEFACTS = Path("test-artifacts", "browser")
OUTCOME = pytest.StashKey[pytest.TestReport]()


@pytest.fixture(scope="package")
def inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="package", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"browser-{request.param}")
    settings = {
        "AUTHSERVER_MAIL_BACKEND": "smtp",
        "AUTHSERVER_SMTP_HOST": inbox.host,
        "AUTHSERVER_SMTP_PORT": str(inbox.port),
        "AUTHSERVER_SMTP_STARTTLS": "false",
    }
    redis_url = os.environ.get(REDIS_ENV) if request.param == "postgresql" else None
    prefix = f"authserver-browser-{secrets.token_hex(6)}"
    with ExitStack() as stack:
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        if redis_url:
            settings["AUTHSERVER_REDIS_URL"] = redis_url
            settings["AUTHSERVER_RATELIMIT_KEY_PREFIX"] = prefix
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    assert running.error_lines() == [], running.log()
    if redis_url:
        delete_keys(redis_url, prefix)


@pytest.fixture(scope="module")
def open_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[LiveServer]:
    """A server of the module's own with sign-up open (`server` keeps it closed), on SQLite."""
    settings = {
        "AUTHSERVER_MAIL_BACKEND": "smtp",
        "AUTHSERVER_SMTP_HOST": inbox.host,
        "AUTHSERVER_SMTP_PORT": str(inbox.port),
        "AUTHSERVER_SMTP_STARTTLS": "false",
        "AUTHSERVER_REGISTRATION": "open",
    }
    workdir = tmp_path_factory.mktemp(f"browser-open-{request.module.__name__.rsplit('.', 1)[-1]}")
    with live_server(workdir, **settings) as running:
        yield running
    assert running.error_lines() == [], running.log()


def delete_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def tab(request: pytest.FixtureRequest, chromium: Browser) -> Iterator[WatchedPage]:
    """A new tab in a fresh browser context, screenshotting into the test's own folder."""
    folder = request.config.rootpath / ARTEFACTS / slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    record_folder(request.node, folder)
    context = chromium.new_context(viewport={"width": 1024, "height": 768}, locale="en-GB")
    try:
        watched = WatchedPage(context.new_page(), folder)
        yield watched
        outcome = request.node.stash.get(OUTCOME, None)
        if outcome is not None and outcome.failed:
            # Best effort: the page may be gone, and the test has failed already anyway.
            with suppress(PlaywrightError):
                watched.screenshot("at-failure")
        else:
            # Whatever happened after the last page was checked (the test ended on it).
            watched.assert_clean()
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[OUTCOME] = report
    return report

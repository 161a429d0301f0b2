"""Shared fixtures: a fresh app per test on each database backend, migrated by Alembic."""

from __future__ import annotations

import contextvars
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import exists, literal, select, text, union_all

from authserver import create_app
from authserver.extensions import db
from tests.support.chromium import CHROMIUM_ARGS, chromium_executable
from tests.support.databases import (
    POSTGRES_ENV,
    REDIS_ENV,
    backends,
    fresh_postgres_database,
    skip_for_want_of,
    uses_service,
)
from tests.support.screenshots import ScreenshotListing
from tests.support.settings import make_test_settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--services-only",
        action="store_true",
        help="run only the tests that use PostgreSQL or Redis (both variables must be set); "
        "CI runs everything else once, on SQLite, in the pass before",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ScreenshotListing(), "screenshot-listing")


# The fault suite and the fuzzer start live servers, stop PostgreSQL and take minutes: they run
# by their own target (`make test-faults`), only when their folder is named on the command line.
SEPARATE_SUITES = ("faults", "fuzz")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    tests_dir = Path(__file__).parent
    for name in SEPARATE_SUITES:
        suite = tests_dir / name
        if collection_path == suite:
            named = (Path(arg.split("::")[0]).resolve() for arg in config.args)
            return not any(path.is_relative_to(suite) for path in named)
    return None  # the default rules decide


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --services-only, deselect the tests a run without the services already covers.

    CI runs the suite twice: on SQLite alone, then with PostgreSQL and Redis. Without this the
    second pass ran every SQLite and memory variant again, unchanged, doubling its time.
    """
    if not config.getoption("services_only"):
        return
    missing = [name for name in (POSTGRES_ENV, REDIS_ENV) if not os.environ.get(name)]
    if missing:
        # Selecting nothing would pass: CI must not go green without its services.
        raise pytest.UsageError(f"--services-only needs {' and '.join(missing)} set")
    kept = [item for item in items if uses_service(item)]
    deselected = [item for item in items if not uses_service(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def migrated_dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`upgrade head` once per backend; tests start from a copy (SQLite) or emptied tables (PG)."""
    template_dir = tmp_path_factory.mktemp("template")
    urls = {"sqlite": f"sqlite:///{template_dir / 'template.sqlite3'}"}
    postgres = fresh_postgres_database() if "postgresql" in backends() else nullcontext(None)
    with postgres as postgres_url:
        if postgres_url:
            urls["postgresql"] = postgres_url
        for url in urls.values():
            app = create_app(make_test_settings(template_dir, database_url=url))
            with app.app_context():
                upgrade()
                db.engine.dispose()  # closes the file, so SQLite checkpoints its WAL before copying
        yield urls


@pytest.fixture(params=backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_dbs: dict[str, str]
) -> str:
    backend: str = request.param
    if backend == "sqlite":
        template = Path(migrated_dbs["sqlite"].removeprefix("sqlite:///"))
        copy = tmp_path / "authserver.sqlite3"
        shutil.copyfile(template, copy)
        return f"sqlite:///{copy}"
    return migrated_dbs["postgresql"]


AppFactory = Callable[..., Flask]


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Without this, a request made while the test holds an app context reuses it: requests would
    share one database session (and `flask.g`), and uncommitted work would leak from one request
    into the next instead of being rolled back at teardown, hiding exactly the bugs a server has.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # Any: werkzeug's signature
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps on the test database (settings changed as asked); all are closed afterwards."""
    built: list[Flask] = []

    def build(**changes: Any) -> Flask:
        changes.setdefault("database_url", database_url)
        built.append(create_app(make_test_settings(tmp_path, **changes)))
        built[-1].test_client_class = IsolatedClient
        return built[-1]

    yield build
    for each in built:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: AppFactory) -> Iterator[Flask]:
    app = make_app()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            _empty_postgres_database()
        yield app


def _empty_postgres_database() -> None:
    """Leave every table empty and every sequence restarted, as after `upgrade head`.

    Only what the tests before wrote is undone: the tables that hold rows are emptied with DELETE
    (children first) and the sequences that were used are restarted. A TRUNCATE of all tables did
    the same in ~0.3 s a test (a new file per table and index, each synced to disk); a test
    writes to a few tables, and these DELETEs take a few milliseconds.
    """
    tables = db.metadata.sorted_tables
    probe = union_all(
        *(select(literal(table.name)).where(exists().select_from(table)) for table in tables)
    )
    holding_rows = set(db.session.execute(probe).scalars())
    used_sequences = (
        db.session.execute(
            text(
                "SELECT sequencename FROM pg_sequences"
                " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
            )
        )
        .scalars()
        .all()
    )
    # The switch the documented audit maintenance uses (migration 0009): without it the
    # append-only trigger refuses to DELETE audit rows. SET LOCAL ends with this transaction.
    db.session.execute(text("SET LOCAL authserver.audit_maintenance = 'on'"))
    for table in reversed(tables):
        if table.name in holding_rows:
            db.session.execute(table.delete())
    for sequence in used_sequences:
        db.session.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    db.session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The test Redis; skipped (saying why) when unset, failed when set but unreachable."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        skip_for_want_of(request, f"{REDIS_ENV} is not set")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"{REDIS_ENV} is set but Redis is unreachable: {exc}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the whole run (the browser and gateway tests).

    One, because Playwright's sync API runs an event loop on the main thread while it is open,
    and a second `sync_playwright()` in the same run would find that loop and refuse to start.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()

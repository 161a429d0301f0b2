"""Pages that send mail: a real SMTP server on loopback, and the app under test mailing to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.keys.manager import ensure_active_keys
from tests.conftest import AppFactory
from tests.support.mailbox import smtp_app
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def mailer(app: Flask, make_app: AppFactory, inbox: Inbox) -> Flask:
    """The app under test, sending over SMTP; `app` holds the test's own database context."""
    ensure_active_keys(now=datetime.now(UTC))
    return smtp_app(app, make_app, inbox)


@pytest.fixture
def browser(mailer: Flask) -> FlaskClient:
    return mailer.test_client()

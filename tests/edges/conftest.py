"""The edge tests drive consent, logout and token flows, which need signing keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from authserver.keys.manager import ensure_active_keys

PRODUCTION_ISSUER = "https://id.example.test"


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))

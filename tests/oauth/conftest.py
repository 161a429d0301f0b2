"""Every protocol test needs signing keys, as `authserver init` makes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from authserver.keys.manager import ensure_active_keys


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))

"""`authserver init` and `authserver serve` as an operator runs them: real processes, real HTTP."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from authserver.config import new_encryption_key
from tests.support.live_server import AUTHSERVER, free_port, live_server, server_environment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database and gunicorn on a free loopback port; stopped by its PID afterwards."""
    with live_server(tmp_path_factory.mktemp("served")) as server:
        yield server.base_url


def test_served_app_is_alive_and_ready(served: str) -> None:
    assert requests.get(f"{served}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{served}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_serve_runs_gunicorn_not_the_development_server(served: str) -> None:
    response = requests.get(f"{served}/healthz", timeout=5)

    assert response.headers["Server"].startswith("gunicorn")


def test_production_server_with_bad_configuration_stops_with_clear_lines(tmp_path: Path) -> None:
    env = {
        **server_environment(tmp_path),
        "AUTHSERVER_ENV": "production",
        "AUTHSERVER_ISSUER": "https://id.example.com",
        "AUTHSERVER_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "AUTHSERVER_SECRET_KEY": "s" * 40,
        "AUTHSERVER_ENCRYPTION_KEYS": new_encryption_key() + ",short",
        "AUTHSERVER_MAIL_BACKEND": "smtp",
    }

    result = subprocess.run(
        [AUTHSERVER, "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "error: AUTHSERVER_ENCRYPTION_KEYS: key #2 is not base64url of 32 bytes "
        "(use `authserver generate-secrets`)\n"
    )

"""`authserver init` and `authserver serve` as an operator runs them: real processes, real HTTP."""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from authserver.dev_secrets import new_encryption_key
from tests.support.live_server import (
    AUTHSERVER,
    LiveServer,
    free_port,
    live_server,
    run_cli,
    server_environment,
)

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A migrated database and gunicorn on a free loopback port; stopped by its PID afterwards."""
    with live_server(tmp_path_factory.mktemp("served")) as server:
        yield server


def test_served_app_is_alive_and_ready(served: LiveServer) -> None:
    assert requests.get(served.url("/healthz"), timeout=5).json() == {"status": "ok"}
    ready = requests.get(served.url("/readyz"), timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_serve_runs_gunicorn_not_the_development_server(served: LiveServer) -> None:
    response = requests.get(served.url("/healthz"), timeout=5)

    assert response.headers["Server"].startswith("gunicorn")


def test_the_server_writes_json_lines_only_with_one_line_per_request(served: LiveServer) -> None:
    code = secrets.token_urlsafe(32)
    answer = requests.get(served.url(f"/healthz?code={code}"), timeout=5)

    request_id = answer.headers["X-Request-ID"]
    records = served.log_records()
    [line] = [record for record in records if record.get("request_id") == request_id]
    assert (line["logger"], line["message"], line["path"]) == (
        "authserver.request",
        "GET /healthz 200",
        "/healthz",
    )
    assert code not in served.log()
    # gunicorn's own messages are JSON lines of the same shape; it writes no access lines.
    starting = [record for record in records if record["logger"] == "gunicorn.error"]
    assert any(record["message"].startswith("Starting gunicorn") for record in starting)
    assert all(record["logger"] != "gunicorn.access" for record in records)


def test_gunicorn_refuses_oversized_request_heads(served: LiveServer) -> None:
    too_long = requests.get(served.url("/healthz?pad=" + "x" * 5000), timeout=5)
    too_many = requests.get(
        served.url("/healthz"), headers={f"X-Extra-{n}": "1" for n in range(80)}, timeout=5
    )

    assert too_long.status_code == 414
    assert too_many.status_code == 431


def gunicorn_settings(tmp_path: Path, cmd_args: str = "", **settings: str) -> dict[str, str]:
    """What `authserver serve` resolves gunicorn's settings to (gunicorn --print-config)."""
    env = server_environment(tmp_path, **settings)
    run_cli(env, tmp_path, "init")
    env["GUNICORN_CMD_ARGS"] = f"--print-config {cmd_args}"
    # --print-config imports wsgi:app before gunicorn applies --pythonpath.
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    result = subprocess.run(
        [AUTHSERVER, "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    printed = re.findall(r"^(\w+)\s+= (.*)$", result.stdout, flags=re.MULTILINE)
    return dict(printed)


TUNED = (
    "worker_class", "threads", "worker_connections", "workers", "timeout", "graceful_timeout",
    "keepalive", "max_requests", "max_requests_jitter", "limit_request_line",
    "limit_request_fields", "limit_request_field_size", "accesslog", "loglevel", "logger_class",
    "control_socket_disable",
)  # fmt: skip


def test_serve_gives_gunicorn_our_defaults(tmp_path: Path) -> None:
    resolved = gunicorn_settings(tmp_path)

    assert {name: resolved[name] for name in TUNED} == {
        "worker_class": "gevent",
        "threads": "1",
        "worker_connections": "1000",
        "workers": "2",  # AUTHSERVER_WORKERS of the test environment
        "timeout": "30",
        "graceful_timeout": "25",
        "keepalive": "75",
        "max_requests": "0",
        "max_requests_jitter": "0",
        "limit_request_line": "4094",
        "limit_request_fields": "64",
        "limit_request_field_size": "8190",
        "accesslog": "None",
        "loglevel": "info",
        "logger_class": "<GunicornLogger()>",
        "control_socket_disable": "True",
    }


def test_serve_takes_gunicorn_settings_from_ours_and_gunicorn_args_still_win(
    tmp_path: Path,
) -> None:
    resolved = gunicorn_settings(
        tmp_path,
        "--timeout 90",
        AUTHSERVER_WORKERS="3",
        AUTHSERVER_WORKER_CLASS="gthread",
        AUTHSERVER_THREADS="4",
        AUTHSERVER_WORKER_TIMEOUT="45",
        AUTHSERVER_GRACEFUL_TIMEOUT="10",
        AUTHSERVER_KEEPALIVE="30",
        AUTHSERVER_MAX_REQUESTS="5000",
        AUTHSERVER_LOG_LEVEL="WARNING",
    )

    assert {name: resolved[name] for name in TUNED[:9]} == {
        "worker_class": "gthread",
        "threads": "4",
        "worker_connections": "1000",
        "workers": "3",
        "timeout": "90",  # GUNICORN_CMD_ARGS (as the benchmark uses it) overrides
        "graceful_timeout": "10",
        "keepalive": "30",
        "max_requests": "5000",
        "max_requests_jitter": "500",
    }
    assert resolved["loglevel"] == "warning"


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

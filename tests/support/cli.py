"""The installed `authserver` command run in a subprocess against a test app's own storage.

The command gets the app's database, Redis, secret key and encryption keys through the
environment, exactly as an operator's shell would hand them over, and nothing else of ours.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from flask import Flask

from authserver.config import Settings
from tests.support.live_server import AUTHSERVER, CLI_TIMEOUT_SECONDS


def cli_environment(app: Flask, workdir: Path) -> dict[str, str]:
    settings: Settings = app.extensions["authserver.settings"]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env = {
        **inherited,
        "AUTHSERVER_INSTANCE_PATH": str(workdir / "cli-instance"),
        "AUTHSERVER_ISSUER": settings.issuer,
        "AUTHSERVER_DATABASE_URL": settings.database_url,
        "AUTHSERVER_SECRET_KEY": settings.secret_key,
        "AUTHSERVER_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "AUTHSERVER_KEY_AUTO_ROTATE": "false",
        "AUTHSERVER_LOG_LEVEL": "WARNING",
    }
    if settings.redis_url:
        env["AUTHSERVER_REDIS_URL"] = settings.redis_url
        env["AUTHSERVER_REDIS_KEY_PREFIX"] = settings.redis_key_prefix
    return env


def run_authserver(
    app: Flask, workdir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`authserver ARGS...` on the app's storage; the caller checks the exit status."""
    return subprocess.run(
        [AUTHSERVER, *args],
        env=cli_environment(app, workdir),
        cwd=workdir,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
    )

"""The ``authserver`` command, run in a process of its own against a test app's database.

    def test_something(app, cli):
        make_user()                                  # through the services, in the test
        result = cli("user", "disable", "alice@example.org")
        assert result.returncode == 0
        cli.json("user", "show", "alice@example.org")

``run_authserver`` is the plain form: the app's storage and secrets only, no session handling.

The subprocess gets exactly the test app's settings as AUTHSERVER_* variables (database,
secrets, encryption keys, cheap argon2), and no inherited AUTHSERVER_* variable. The test's own
database session commits before each command and starts afresh after it, so each side sees
what the other wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from flask import Flask

from authserver.config import Settings, env_name, setting_fields
from authserver.extensions import db
from tests.support.command_process import run_command
from tests.support.live_server import AUTHSERVER, CLI_TIMEOUT_SECONDS


def settings_environment(settings: Settings) -> dict[str, str]:
    """AUTHSERVER_* variables that make ``Settings.from_env`` rebuild ``settings``."""
    variables: dict[str, str] = {}
    for spec in setting_fields():
        value = getattr(settings, spec.name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, tuple):
            value = ",".join(value)
        variables[env_name(spec.name)] = str(value)
    return variables


class Cli:
    """Runs ``authserver ARGS...``; returns the completed process whatever its exit code."""

    def __init__(self, app: Flask, workdir: Path) -> None:
        self.settings: Settings = app.extensions["authserver.settings"]
        self.workdir = workdir

    def __call__(
        self, *args: str, stdin: str | None = None, **overrides: str
    ) -> subprocess.CompletedProcess[str]:
        """``overrides``: setting names (``audit_retention_days="30"``) to change for this run."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
        env = {
            **inherited,
            **settings_environment(self.settings),
            **{env_name(name): value for name, value in overrides.items()},
        }
        db.session.commit()  # let the command see (and not wait for) what the test wrote
        try:
            return run_command(
                AUTHSERVER,
                args,
                env=env,
                cwd=self.workdir,
                stdin=stdin,
                timeout=CLI_TIMEOUT_SECONDS,
            )
        finally:
            db.session.rollback()  # the next query starts a transaction that sees its writes

    def ok(self, *args: str, stdin: str | None = None, **overrides: str) -> str:
        """Run, insist on exit 0 with nothing on stderr but mail; return stdout."""
        result = self(*args, stdin=stdin, **overrides)
        assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args: str, stdin: str | None = None, **overrides: str) -> Any:  # Any: JSON
        return json.loads(self.ok(*args, "--json", stdin=stdin, **overrides))

    def fails(self, *args: str, stdin: str | None = None, **overrides: str) -> str:
        """Run, insist on exit 1 with one-line errors and no traceback; return stderr."""
        result = self(*args, stdin=stdin, **overrides)
        assert result.returncode == 1, f"exit {result.returncode}:\n{result.stdout}{result.stderr}"
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: "), result.stderr
        return result.stderr


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
    return env


def run_authserver(
    app: Flask, workdir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`authserver ARGS...` on the app's storage; the caller checks the exit status."""
    return run_command(
        AUTHSERVER,
        args,
        env=cli_environment(app, workdir),
        cwd=workdir,
        stdin=stdin,
        timeout=CLI_TIMEOUT_SECONDS,
    )

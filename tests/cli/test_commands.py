"""The command line: help everywhere, config checks, secrets generation, init."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from flask.testing import FlaskCliRunner

from authserver.cli import main
from authserver.config import Settings
from authserver.dev_secrets import is_valid_encryption_key
from authserver.extensions import MIGRATIONS_DIRECTORY


def all_command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths += all_command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.mark.parametrize("path", all_command_paths(main), ids=" ".join)
def test_every_command_has_help(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # Flask-Migrate's `db` group builds the app even for --help

    result = CliRunner().invoke(main, [*path, "--help"], env=isolated_env(tmp_path))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])

    assert result.exit_code == 2


def isolated_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    return {"AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance"), **variables}


def test_check_config_prints_settings_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "a-very-long-secret-key-that-must-never-be-printed"

    result = CliRunner().invoke(
        main, ["check-config"], env=isolated_env(tmp_path, AUTHSERVER_SECRET_KEY=secret)
    )

    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert "AUTHSERVER_SECRET_KEY" in result.output
    assert "********" in result.output


def test_check_config_json_lists_settings_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        main,
        ["check-config", "--json"],
        env=isolated_env(tmp_path, AUTHSERVER_ID_TOKEN_TTL="300", AUTHSERVER_TYPO="1"),
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["settings"]["AUTHSERVER_ID_TOKEN_TTL"] == 300
    assert report["warnings"] == ["AUTHSERVER_TYPO: unknown setting (a typo?); it is ignored"]


def test_check_config_in_production_with_nothing_set_fails_naming_each_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["check-config"], env={"AUTHSERVER_ENV": "production"})

    assert result.exit_code == 1
    for name in ("ISSUER", "DATABASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS"):
        assert f"error: AUTHSERVER_{name}: required in production" in result.stderr
    assert "Traceback" not in result.output


def test_generated_secrets_are_a_valid_production_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["generate-secrets"])

    assert result.exit_code == 0
    generated = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(generated) == {"AUTHSERVER_SECRET_KEY", "AUTHSERVER_ENCRYPTION_KEYS"}
    assert is_valid_encryption_key(generated["AUTHSERVER_ENCRYPTION_KEYS"])
    settings = Settings.from_env(
        {
            **generated,
            "AUTHSERVER_ENV": "production",
            "AUTHSERVER_ISSUER": "https://id.example.com",
            "AUTHSERVER_DATABASE_URL": "sqlite:////var/lib/authserver/db.sqlite3",
            "AUTHSERVER_MAIL_BACKEND": "smtp",
        }
    )
    assert settings.secret_key == generated["AUTHSERVER_SECRET_KEY"]


def test_generate_secrets_differ_every_time_and_speak_json() -> None:
    first = json.loads(CliRunner().invoke(main, ["generate-secrets", "--json"]).stdout)
    second = json.loads(CliRunner().invoke(main, ["generate-secrets", "--json"]).stdout)

    assert first["AUTHSERVER_SECRET_KEY"] != second["AUTHSERVER_SECRET_KEY"]
    assert first["AUTHSERVER_ENCRYPTION_KEYS"] != second["AUTHSERVER_ENCRYPTION_KEYS"]


def test_init_reports_the_schema_revision(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["init", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    head = ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()
    assert (report["database"], report["revision"]) == ("ready", head)


def test_command_needing_the_app_reports_bad_configuration_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        main, ["db", "upgrade"], env=isolated_env(tmp_path, AUTHSERVER_WORKERS="many")
    )

    assert result.exit_code == 1
    assert result.stderr == "error: AUTHSERVER_WORKERS: expected a whole number, got 'many'\n"


def test_serve_refuses_bad_configuration_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["serve"], env={"AUTHSERVER_ENV": "production"})

    assert result.exit_code == 1
    assert "error: AUTHSERVER_SECRET_KEY: required in production" in result.stderr

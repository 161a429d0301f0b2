"""`authserver keys list|rotate|advance` and the keys `init` creates."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import time_machine
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskCliRunner

from authserver.cli import main
from authserver.config import Settings
from authserver.extensions import MIGRATIONS_DIRECTORY
from authserver.keys.manager import REMOVAL_GRACE_SECONDS
from authserver.models.types import utcnow

ALGS = ["RS256", "ES256", "EdDSA"]

HEAD_REVISION = ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()


def invoke_json(runner: FlaskCliRunner, *args: str) -> Any:  # Any: the command's JSON
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_creates_and_reports_one_active_key_per_algorithm(runner: FlaskCliRunner) -> None:
    first = invoke_json(runner, "init")
    second = invoke_json(runner, "init")

    assert first["revision"] == HEAD_REVISION
    assert sorted(first["active_keys"]) == sorted(ALGS)
    assert second == first


def test_init_prints_the_active_kids(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["init"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"database ready (revision {HEAD_REVISION})"
    assert [line.split(":")[0] for line in lines[1:]] == [f"active {alg} key" for alg in ALGS]


def test_keys_list_json_shows_public_facts_only(runner: FlaskCliRunner) -> None:
    active = invoke_json(runner, "init")["active_keys"]

    listed = invoke_json(runner, "keys", "list")["keys"]

    assert {key["alg"]: key["kid"] for key in listed} == active
    for key in listed:
        assert set(key) == {"kid", "alg", "state", "created_at", "activated_at", "retired_at"}
        assert key["state"] == "active"
        assert key["activated_at"] == key["created_at"]
        assert key["retired_at"] is None


def test_keys_list_text_is_a_table(runner: FlaskCliRunner) -> None:
    active = invoke_json(runner, "init")["active_keys"]

    result = runner.invoke(main, ["keys", "list"])

    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["kid", "alg", "state", "created_at", "activated_at", "retired_at"]
    assert sorted(row.split()[0] for row in rows) == sorted(active.values())
    assert all(row.split()[2] == "active" and row.endswith("  -") for row in rows)


def test_keys_list_without_keys_says_how_to_make_them(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["keys", "list"])

    assert result.exit_code == 0
    assert result.stdout == "no signing keys (run `authserver init`)\n"


def test_keys_rotate_publishes_next_keys(runner: FlaskCliRunner) -> None:
    invoke_json(runner, "init")

    report = invoke_json(runner, "keys", "rotate", "--alg", "ES256", "--alg", "EdDSA")

    assert [entry["alg"] for entry in report["created"]] == ["ES256", "EdDSA"]
    assert all("activates_at" in entry for entry in report["created"])
    assert report["activated"] == report["retired"] == report["removed"] == []
    states = {(key["alg"], key["state"]) for key in invoke_json(runner, "keys", "list")["keys"]}
    assert ("ES256", "next") in states
    assert ("RS256", "next") not in states


def test_keys_rotate_text_says_when_next_keys_take_over(runner: FlaskCliRunner) -> None:
    invoke_json(runner, "init")

    first = runner.invoke(main, ["keys", "rotate", "--alg", "RS256"])
    second = runner.invoke(main, ["keys", "rotate", "--alg", "RS256"])

    assert first.exit_code == second.exit_code == 0
    assert first.stdout.startswith("RS256: published next key ")
    assert "`keys advance` activates it from " in first.stdout
    assert second.stdout.startswith("RS256: next key ")
    assert "was already published" in second.stdout


def test_keys_rotate_immediately_switches_at_once(runner: FlaskCliRunner) -> None:
    old = invoke_json(runner, "init")["active_keys"]["RS256"]

    report = invoke_json(runner, "keys", "rotate", "--alg", "RS256", "--immediately")

    assert [entry["kid"] for entry in report["retired"]] == [old]
    [activated] = report["activated"]
    listed = {key["kid"]: key["state"] for key in invoke_json(runner, "keys", "list")["keys"]}
    assert listed[old] == "retired"
    assert listed[activated["kid"]] == "active"


def test_keys_rotate_immediately_text(runner: FlaskCliRunner) -> None:
    invoke_json(runner, "init")

    result = runner.invoke(main, ["keys", "rotate", "--alg", "EdDSA", "--immediately"])

    assert result.exit_code == 0, result.output
    retired, activated = result.stdout.splitlines()
    assert retired.startswith("EdDSA: retired key ") and retired.endswith("(still published)")
    assert activated.startswith("EdDSA: key ") and activated.endswith(" is now active")


def test_keys_rotate_before_init_is_a_clear_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["keys", "rotate"])

    assert result.exit_code == 1
    assert result.stderr == "error: no active RS256 signing key (run `authserver init`)\n"


def test_keys_rotate_unknown_algorithm_is_a_usage_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["keys", "rotate", "--alg", "HS256"])

    assert result.exit_code == 2
    assert "'HS256' is not one of 'RS256', 'ES256', 'EdDSA'" in result.stderr


def test_keys_advance_with_nothing_due(runner: FlaskCliRunner) -> None:
    invoke_json(runner, "init")

    result = runner.invoke(main, ["keys", "advance"])

    assert result.exit_code == 0
    assert result.stdout == "nothing to do\n"


def test_keys_advance_promotes_a_next_key_after_the_jwks_max_age(
    app: Flask, runner: FlaskCliRunner, time_machine: time_machine.TimeMachineFixture
) -> None:
    settings: Settings = app.extensions["authserver.settings"]
    start = utcnow()
    time_machine.move_to(start, tick=False)
    invoke_json(runner, "init")
    [created] = invoke_json(runner, "keys", "rotate", "--alg", "ES256")["created"]

    time_machine.move_to(start + timedelta(seconds=settings.jwks_max_age - 1), tick=False)
    early = invoke_json(runner, "keys", "advance")
    time_machine.move_to(start + timedelta(seconds=settings.jwks_max_age), tick=False)
    due = invoke_json(runner, "keys", "advance")

    assert early["activated"] == []
    assert due["activated"] == [{"alg": "ES256", "kid": created["kid"]}]
    assert [entry["alg"] for entry in due["retired"]] == ["ES256"]


def test_keys_advance_keeps_retired_keys_while_a_client_token_may_be_valid(
    app: Flask, runner: FlaskCliRunner, time_machine: time_machine.TimeMachineFixture
) -> None:
    settings: Settings = app.extensions["authserver.settings"]
    day = 86400
    assert max(settings.access_token_ttl, settings.id_token_ttl) < day
    start = utcnow()
    time_machine.move_to(start, tick=False)
    invoke_json(runner, "init")
    invoke_json(
        runner,
        *("client", "create", "--name", "Nightly batch", "--grant-type", "client_credentials"),
        *("--access-token-ttl", str(day)),
    )
    [retired] = invoke_json(runner, "keys", "rotate", "--alg", "RS256", "--immediately")["retired"]

    # Tokens with the server's lifetimes have long expired, the batch client's have not.
    time_machine.move_to(start + timedelta(seconds=day - 1), tick=False)
    early = invoke_json(runner, "keys", "advance")
    time_machine.move_to(start + timedelta(seconds=day + REMOVAL_GRACE_SECONDS), tick=False)
    due = invoke_json(runner, "keys", "advance")

    assert early["removed"] == []
    assert due["removed"] == [{"alg": "RS256", "kid": retired["kid"]}]

"""``client create/update --backchannel-logout-uri``: registering where logout tokens go."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner

from authserver.cli import main
from tests.conftest import AppFactory

REDIRECT = ("--redirect-uri", "https://rp.example.com/cb")
LOGOUT_URI = "https://rp.example.com/backchannel?tenant=7"


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def invoke_json(runner: FlaskCliRunner, *args: str) -> Any:  # Any: the command's JSON
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_show_update_and_clear(runner: FlaskCliRunner) -> None:
    created = invoke_json(
        runner,
        "client", "create", "--name", "RP", *REDIRECT,
        "--backchannel-logout-uri", LOGOUT_URI, "--backchannel-logout-session-required",
    )  # fmt: skip
    client_id = created["client_id"]
    shown = invoke_json(runner, "client", "show", client_id)
    assert shown["backchannel_logout_uri"] == LOGOUT_URI
    assert shown["backchannel_logout_session_required"] is True

    updated = invoke_json(
        runner, "client", "update", client_id, "--no-backchannel-logout-session-required"
    )
    assert updated["changed"] == ["backchannel_logout_session_required"]
    assert updated["backchannel_logout_uri"] == LOGOUT_URI

    cleared = invoke_json(runner, "client", "update", client_id, "--clear-backchannel-logout-uri")
    assert cleared["changed"] == ["backchannel_logout_uri"]
    assert cleared["backchannel_logout_uri"] is None
    assert invoke_json(runner, "client", "list")[0]["backchannel_logout_uri"] is None


def test_a_client_without_the_option_has_none(runner: FlaskCliRunner) -> None:
    created = invoke_json(runner, "client", "create", "--name", "RP", *REDIRECT)
    assert created["backchannel_logout_uri"] is None
    assert created["backchannel_logout_session_required"] is False


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("https://rp.example.com/logout#frag", "must not contain a fragment"),
        ("http://rp.example.com/logout", "must be https"),
        ("https://user@rp.example.com/logout", "must not contain user information"),
        ("logout", "must be https"),
    ],
)
def test_bad_uris_are_refused_and_change_nothing(
    runner: FlaskCliRunner, uri: str, problem: str
) -> None:
    refused = invoke(
        runner, "client", "create", "--name", "RP", *REDIRECT, "--backchannel-logout-uri", uri
    )
    assert refused.exit_code == 1
    assert f"back-channel logout URI {uri!r}: {problem}" in refused.stderr
    assert invoke_json(runner, "client", "list") == []

    created = invoke_json(runner, "client", "create", "--name", "RP", *REDIRECT)
    update = invoke(
        runner, "client", "update", created["client_id"], "--backchannel-logout-uri", uri
    )
    assert update.exit_code == 1
    assert problem in update.stderr
    shown = invoke_json(runner, "client", "show", created["client_id"])
    assert shown["backchannel_logout_uri"] is None


def test_loopback_is_for_development_only(runner: FlaskCliRunner) -> None:
    created = invoke_json(
        runner, "client", "create", "--name", "RP", *REDIRECT,
        "--backchannel-logout-uri", "http://127.0.0.1:8123/logout",
    )  # fmt: skip
    assert created["backchannel_logout_uri"] == "http://127.0.0.1:8123/logout"


def test_session_required_needs_a_uri_and_clearing_contradicts_setting(
    runner: FlaskCliRunner,
) -> None:
    alone = invoke(
        runner, "client", "create", "--name", "RP", *REDIRECT,
        "--backchannel-logout-session-required",
    )  # fmt: skip
    assert alone.exit_code == 1
    assert "backchannel_logout_session_required: needs a back-channel logout URI" in alone.stderr

    created = invoke_json(runner, "client", "create", "--name", "RP", *REDIRECT)
    both = invoke(
        runner, "client", "update", created["client_id"],
        "--clear-backchannel-logout-uri", "--backchannel-logout-uri", LOGOUT_URI,
    )  # fmt: skip
    assert both.exit_code == 1
    assert "contradict" in both.stderr


def test_production_refuses_a_loopback_logout_uri(make_app: AppFactory) -> None:
    production = make_app(env="production", issuer="https://id.example.com")
    with production.app_context():
        refused = invoke(
            production.test_cli_runner(),
            "client", "create", "--name", "RP", *REDIRECT,
            "--backchannel-logout-uri", "https://127.0.0.1/logout",
        )  # fmt: skip
    assert refused.exit_code == 1
    assert "must not be a loopback address in production" in refused.stderr

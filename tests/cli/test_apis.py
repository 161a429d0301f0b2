"""``authserver api``: register, list, show, update and delete APIs, and who introspects them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from authserver.cli import main
from authserver.extensions import db
from authserver.models.apis import Api
from authserver.models.audit import AuditEvent

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/"
SERVICE = ("--grant-type", "client_credentials", "--scope", "jobs")


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def invoke_json(runner: FlaskCliRunner, *args: str) -> Any:  # Any: the command's JSON
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def create_api(runner: FlaskCliRunner, identifier: str = ORDERS, *extra: str) -> Any:
    return invoke_json(
        runner,
        *("api", "create", "--identifier", identifier, "--name", "Orders"),
        *("--scope", "orders:read", "--scope", "orders:write"),
        *extra,
    )


def api_events() -> list[tuple[str, dict[str, Any]]]:
    rows = db.session.execute(
        select(AuditEvent.event, AuditEvent.detail)
        .where(AuditEvent.event.like("api:%"))
        .order_by(AuditEvent.id)
    )
    return [(event, detail) for event, detail in rows]


def test_create_prints_the_api(app: Flask, runner: FlaskCliRunner) -> None:
    created = create_api(runner, ORDERS, "--access-token-ttl", "300")

    assert {name: created[name] for name in ("identifier", "name", "scopes")} == {
        "identifier": ORDERS,
        "name": "Orders",
        "scopes": ["orders:read", "orders:write"],
    }
    assert created["access_token_ttl"] == 300
    assert api_events() == [("api:create", {"identifier": ORDERS, "via": "cli"})]


def test_list_and_show(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS)
    create_api(runner, BILLING)

    listed = invoke_json(runner, "api", "list")
    shown = invoke_json(runner, "api", "show", BILLING)
    text = invoke(runner, "api", "list").output

    assert [each["identifier"] for each in listed] == [ORDERS, BILLING]
    assert shown["identifier"] == BILLING
    assert f"{ORDERS}  Orders  (orders:read orders:write)" in text


@pytest.mark.parametrize(
    ("identifier", "scopes", "problem"),
    [
        ("orders", ["orders:read"], "an absolute URI"),
        ("https://orders.example.com/#top", ["orders:read"], "no fragment"),
        ("https://orders.example.com/?v=1", ["orders:read"], "no query"),
        ("http://localhost", ["orders:read"], "the issuer itself"),
        (ORDERS, ["openid"], "a standard OpenID Connect scope"),
        (ORDERS, ['say"hi'], "printable ASCII"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(
    app: Flask, runner: FlaskCliRunner, identifier: str, scopes: list[str], problem: str
) -> None:
    scope_options = [part for scope in scopes for part in ("--scope", scope)]
    result = invoke(
        runner, "api", "create", "--identifier", identifier, "--name", "X", *scope_options
    )

    assert result.exit_code == 1
    assert problem in result.stderr
    assert "Traceback" not in result.output
    assert db.session.scalars(select(Api)).all() == []


def test_an_identifier_is_registered_once(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS)

    again = invoke(runner, "api", "create", "--identifier", ORDERS, "--name", "Y", "--scope", "y")

    assert again.exit_code == 1
    assert "exists already" in again.stderr


def test_update_replaces_scopes_and_lifetime(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS, "--access-token-ttl", "300")

    updated = invoke_json(
        runner, "api", "update", ORDERS, "--scope", "orders:read", "--access-token-ttl", "default"
    )

    assert updated["scopes"] == ["orders:read"]
    assert updated["access_token_ttl"] is None
    assert api_events()[-1] == (
        "api:update",
        {
            "identifier": ORDERS,
            "changed": {"scopes": ["orders:read"], "access_token_ttl": None},
            "via": "cli",
        },
    )


def test_update_and_delete_need_a_known_api_and_something_to_do(
    app: Flask, runner: FlaskCliRunner
) -> None:
    create_api(runner, ORDERS)

    unknown_update = invoke(runner, "api", "update", BILLING, "--name", "B")
    unknown_delete = invoke(runner, "api", "delete", BILLING)
    nothing = invoke(runner, "api", "update", ORDERS)
    unknown_show = invoke(runner, "api", "show", BILLING)

    for result in (unknown_update, unknown_delete, unknown_show):
        assert result.exit_code == 1
        assert f"no API with identifier {BILLING!r}" in result.stderr
    assert nothing.exit_code == 1
    assert "nothing to change" in nothing.stderr


def test_a_client_introspects_the_apis_it_is_given(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS)
    create_api(runner, BILLING)

    created = invoke_json(
        runner, "client", "create", "--name", "Orders service", *SERVICE,
        "--introspect-api", ORDERS,
    )  # fmt: skip
    replaced = invoke_json(
        runner, "client", "update", created["client_id"], "--introspect-api", BILLING
    )
    cleared = invoke_json(
        runner, "client", "update", created["client_id"], "--clear-introspect-apis"
    )

    assert created["introspect_apis"] == [ORDERS]
    assert replaced["introspect_apis"] == [BILLING]
    assert replaced["changed"] == ["introspect_apis"]
    assert cleared["introspect_apis"] == []


def test_a_client_may_not_introspect_an_unknown_api_nor_be_public(
    app: Flask, runner: FlaskCliRunner
) -> None:
    create_api(runner, ORDERS)

    unknown = invoke(
        runner, "client", "create", "--name", "S", *SERVICE, "--introspect-api", BILLING
    )
    public = invoke(
        runner, "client", "create", "--name", "SPA", "--public",
        "--redirect-uri", "https://spa.example.com/cb", "--introspect-api", ORDERS,
    )  # fmt: skip

    assert unknown.exit_code == 1
    assert f"introspect API {BILLING!r}: no such API" in unknown.stderr
    assert public.exit_code == 1
    assert "introspect_apis: only for confidential clients" in public.stderr


def test_deleting_an_api_takes_it_from_the_clients_that_introspected_it(
    app: Flask, runner: FlaskCliRunner
) -> None:
    create_api(runner, ORDERS)
    service = invoke_json(
        runner, "client", "create", "--name", "S", *SERVICE, "--introspect-api", ORDERS
    )

    deleted = invoke_json(runner, "api", "delete", ORDERS)

    assert deleted == {
        "identifier": ORDERS,
        "deleted": True,
        "introspection_removed_from": [service["client_id"]],
    }
    assert invoke_json(runner, "client", "show", service["client_id"])["introspect_apis"] == []
    assert invoke_json(runner, "api", "list") == []
    assert api_events()[-1][0] == "api:delete"

"""``authserver client``: the token-exchange grant (RFC 8693) and the APIs a client may ask for."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from tests.cli.test_apis import BILLING, ORDERS, create_api, invoke, invoke_json

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
EXCHANGER = (
    *("--name", "Orders service", "--grant-type", TOKEN_EXCHANGE, "--scope", "orders:read"),
    *("--introspect-api", ORDERS),
)


def test_a_client_gets_the_grant_and_its_audiences(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS)
    create_api(runner, BILLING)

    created = invoke_json(runner, "client", "create", *EXCHANGER, "--exchange-audience", BILLING)
    client_id = created["client_id"]
    shown = invoke_json(runner, "client", "show", client_id)
    replaced = invoke_json(
        runner, "client", "update", client_id,
        "--exchange-audience", ORDERS, "--exchange-audience", BILLING,
    )  # fmt: skip
    cleared = invoke_json(runner, "client", "update", client_id, "--clear-exchange-audiences")

    assert shown["grant_types"] == [TOKEN_EXCHANGE]
    assert shown["exchange_audiences"] == [BILLING]
    assert "client_secret" in created  # confidential: it authenticates
    assert replaced["exchange_audiences"] == [ORDERS, BILLING]
    assert replaced["changed"] == ["exchange_audiences"]
    assert cleared["exchange_audiences"] == []


def test_refused_registrations_change_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    create_api(runner, ORDERS)

    unknown = invoke(runner, "client", "create", *EXCHANGER, "--exchange-audience", BILLING)
    public = invoke(
        runner, "client", "create", "--name", "SPA", "--public",
        "--redirect-uri", "https://spa.example.com/cb", "--grant-type", "authorization_code",
        "--grant-type", TOKEN_EXCHANGE,
    )  # fmt: skip
    without_grant = invoke(
        runner, "client", "create", "--name", "Batch", "--grant-type", "client_credentials",
        "--scope", "orders:read", "--exchange-audience", ORDERS,
    )  # fmt: skip
    existing = invoke_json(runner, "client", "create", *EXCHANGER)
    contradiction = invoke(
        runner, "client", "update", existing["client_id"],
        "--exchange-audience", ORDERS, "--clear-exchange-audiences",
    )  # fmt: skip

    assert unknown.exit_code == 1
    assert f"exchange audience {BILLING!r}: no such API" in unknown.stderr
    assert public.exit_code == 1
    assert f"{TOKEN_EXCHANGE}: only for confidential clients" in public.stderr
    assert without_grant.exit_code == 1
    assert f"exchange_audiences: only with the {TOKEN_EXCHANGE} grant type" in (
        without_grant.stderr
    )
    assert contradiction.exit_code == 1
    assert "--clear-exchange-audiences and --exchange-audience contradict" in contradiction.stderr
    assert [each["name"] for each in invoke_json(runner, "client", "list")] == ["Orders service"]


def test_deleting_an_api_takes_it_from_exchange_policies(
    app: Flask, runner: FlaskCliRunner
) -> None:
    create_api(runner, ORDERS)
    create_api(runner, BILLING)
    client_id = invoke_json(runner, "client", "create", *EXCHANGER, "--exchange-audience", BILLING)[
        "client_id"
    ]

    invoke_json(runner, "api", "delete", BILLING)

    assert invoke_json(runner, "client", "show", client_id)["exchange_audiences"] == []

"""``authserver user passkeys EMAIL`` and ``user passkeys remove EMAIL ID``, on passkeys made
through the account page by the software authenticator of tests/support/passkeys.py."""

from __future__ import annotations

from flask import Flask

from tests.cli.admin_support import audit_rows
from tests.factories import DEFAULT_EMAIL, make_user
from tests.support.cli import Cli
from tests.support.passkeys import passkey_sign_in, registered


def test_list_then_remove_the_last_second_factor(app: Flask, cli: Cli) -> None:
    make_user()
    passkey = registered(app, synced=True)

    [listed] = cli.json("user", "passkeys", DEFAULT_EMAIL, "--json")
    text = cli.ok("user", "passkeys", DEFAULT_EMAIL)
    removed = cli.json("user", "passkeys", "remove", DEFAULT_EMAIL, str(listed["id"]), "--json")

    assert listed["synced"] is True and listed["last_used_at"] is None
    assert set(listed) == {"id", "name", "synced", "created_at", "last_used_at"}
    assert f"{listed['id']}  {listed['name']}  synced" in text
    assert removed == {
        "email": DEFAULT_EMAIL,
        "removed": listed["id"],
        "passkeys_left": False,
        "has_password": True,
    }
    assert cli.json("user", "passkeys", DEFAULT_EMAIL, "--json") == []
    [(_, _, _, detail)] = audit_rows("user:passkey:remove")
    assert detail == {
        "passkey": listed["id"],
        "name": listed["name"],
        "via": "cli",
        "last_second_factor": True,
    }
    assert passkey_sign_in(app.test_client(), passkey).status_code == 401


def test_an_unknown_passkey_or_address_is_an_error(app: Flask, cli: Cli) -> None:
    make_user()

    assert "no passkey 42" in cli.fails("user", "passkeys", "remove", DEFAULT_EMAIL, "42")
    assert cli.fails("user", "passkeys", "nobody@example.com")

"""``secrets reencrypt``: move every value encrypted at rest onto the current key."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.cli.output import emit_json, fail, json_option
from authserver.maintenance.reencrypt import ReencryptionFailed, reencrypt_all


@click.group("secrets")
def secrets_group() -> None:
    """Secrets encrypted at rest (signing keys' private halves, TOTP secrets)."""


@secrets_group.command("reencrypt")
@json_option
@with_appcontext
def reencrypt_command(as_json: bool) -> None:
    """Re-encrypt everything under the first key of AUTHSERVER_ENCRYPTION_KEYS.

    Afterwards the other keys of the ring are no longer needed and can be removed. Safe to
    run again (values already under the first key are left alone) and while serving. Every
    instance must already have the new key in its ring (see docs/deploy.md).
    """
    try:
        report = reencrypt_all()
    except ReencryptionFailed as error:
        fail(f"{error}; rows before it were re-encrypted, nothing after it was changed")
    if as_json:
        emit_json(report.as_dict())
        return
    for name, column in report.columns.items():
        click.echo(
            f"{name}: re-encrypted {column.reencrypted}, already current "
            f"{column.already_current}, rewritten meanwhile {column.changed_meanwhile}"
        )


def register(group: click.Group) -> None:
    group.add_command(secrets_group)

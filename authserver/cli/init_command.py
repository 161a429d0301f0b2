"""``init``: bring a database to the current schema and give it signing keys (idempotent)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from authserver.cli.output import emit_json, fail, json_option
from authserver.keys.errors import KeysError
from authserver.keys.manager import ensure_active_keys
from authserver.migrations_state import current_revision
from authserver.models.types import utcnow


@click.command("init")
@json_option
@with_appcontext
def init(as_json: bool) -> None:
    """Migrate the database and create any missing signing key. Safe to run on every start."""
    upgrade()
    revision = current_revision()
    try:
        active = {key.alg.value: key.kid for key in ensure_active_keys(now=utcnow())}
    except KeysError as error:
        fail(str(error))
    if as_json:
        emit_json({"database": "ready", "revision": revision, "active_keys": active})
        return
    click.echo(f"database ready (revision {revision})")
    for alg, kid in active.items():
        click.echo(f"active {alg} key: {kid}")


def register(group: click.Group) -> None:
    group.add_command(init)

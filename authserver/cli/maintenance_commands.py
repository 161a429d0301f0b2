"""``maintenance purge``: delete expired rows and old audit events (run it from cron)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.cli.output import emit_json, json_option
from authserver.config import current_settings
from authserver.maintenance.purge import purge
from authserver.models.types import utcnow


@click.group("maintenance")
def maintenance() -> None:
    """Upkeep to schedule: purge what has expired."""


@maintenance.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@json_option
@with_appcontext
def purge_command(dry_run: bool, as_json: bool) -> None:
    """Delete expired codes, tokens, links, sessions and deny-list rows, and audit events older
    than AUTHSERVER_AUDIT_RETENTION_DAYS. Prints how many rows per table.

    Deletes in small batches, one transaction each: safe to run while serving, and to stop
    and rerun at any time.
    """
    settings = current_settings()
    counts = purge(now=utcnow(), settings=settings, dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "tables": counts})
        return
    verb = "would delete" if dry_run else "deleted"
    width = max(len(table) for table in counts)
    for table, count in counts.items():
        click.echo(f"{table.ljust(width)}  {verb} {count}")


def register(group: click.Group) -> None:
    group.add_command(maintenance)

"""``user export`` and ``user delete``: a person's data handed out, or erased, by an operator.

Both call the same services as the account page (accounts/export.py and
accounts/deletion.py), so an export is the same document and a deletion the same
erasure whoever starts it.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.accounts.deletion import delete_account
from authserver.accounts.export import export_account, render_export
from authserver.accounts.lifecycle import find_user_by_email
from authserver.cli.output import emit_json, fail, json_option
from authserver.cli.users import user_group
from authserver.models.types import utcnow


@click.command("export")
@click.argument("email")
@with_appcontext
def export_command(email: str) -> None:
    """Print everything stored about the account as JSON (the account page's download).

    Never passwords, secrets or tokens. The export is recorded in the audit log.
    """
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    click.echo(render_export(export_account(user, now=utcnow(), via="cli")))


@click.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@with_appcontext
def delete_command(email: str, yes: bool, as_json: bool) -> None:
    """Delete the account and everything about it; cannot be undone.

    Sessions, tokens, consents, MFA and links are removed and every token issued stops
    working at once. Audit rows stay, pseudonymised. The address can register again as a new,
    unrelated account.
    """
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    address = user.email
    if not yes and not click.confirm(
        f"Delete the account {address} and everything about it? This cannot be undone",
        err=True,
    ):
        fail("nothing was deleted")
    report = delete_account(user, now=utcnow(), via="cli")
    if as_json:
        emit_json(
            {
                "deleted": True,
                "sessions_ended": report.sessions,
                "refresh_tokens_deleted": report.refresh_tokens,
                "consents_deleted": report.consents,
                "audit_rows_pseudonymised": report.audit_rows_pseudonymised,
            }
        )
        return
    click.echo(
        f"deleted {address}: {report.sessions} sessions ended, "
        f"{report.refresh_tokens} refresh tokens and {report.consents} consents removed, "
        f"{report.audit_rows_pseudonymised} audit rows pseudonymised"
    )


def register(group: click.Group) -> None:
    """The commands join the ``user`` group (which ``users.register`` adds to ``group``)."""
    user_group.add_command(export_command)
    user_group.add_command(delete_command)

"""``user passkeys EMAIL`` and ``user passkeys remove EMAIL ID``: an account's passkeys.

Removing is for support (a lost or suspect passkey); it is allowed even when it was the last
second factor of someone who signs in to ``--require-mfa`` clients, and the audit event says
so (security/passkeys.py). So is removing the only passkey of an account without a password,
which then cannot sign in until it gets one: the command warns.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.cli.output import emit_json, fail, json_option, warn
from authserver.cli.user_lookup import user_or_fail
from authserver.security.errors import UnknownPasskey
from authserver.security.passkeys import has_passkeys, list_passkeys, remove_passkey

VIA = "cli"


class _EmailOrCommand(click.Group):
    """``passkeys EMAIL`` lists: anything that is not a subcommand's name is an address."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            args = ["list", *args]
        return super().resolve_command(ctx, args)


@click.group("passkeys", cls=_EmailOrCommand)
def passkeys_group() -> None:
    """EMAIL's passkeys: `passkeys EMAIL` lists them, `passkeys remove EMAIL ID` removes one."""


@passkeys_group.command("list")
@click.argument("email")
@json_option
@with_appcontext
def list_command(email: str, as_json: bool) -> None:
    """List EMAIL's passkeys: id, name, synced, added, last used (never a key)."""
    user = user_or_fail(email)
    described = [
        {
            "id": each.id,
            "name": each.name,
            "synced": each.is_synced,
            "created_at": each.created_at.isoformat(timespec="seconds"),
            "last_used_at": None
            if each.last_used_at is None
            else each.last_used_at.isoformat(timespec="seconds"),
        }
        for each in list_passkeys(user.id)
    ]
    if as_json:
        emit_json(described)
        return
    if not described:
        click.echo(f"{user.email} has no passkeys")
    for row in described:
        synced = "synced" if row["synced"] else "this device only"
        click.echo(
            f"{row['id']}  {row['name']}  {synced}  added {row['created_at']}  "
            f"last used {row['last_used_at'] or 'never'}"
        )


@passkeys_group.command("remove")
@click.argument("email")
@click.argument("passkey_id", metavar="ID", type=int)
@json_option
@with_appcontext
def remove_command(email: str, passkey_id: int, as_json: bool) -> None:
    """Remove the passkey ID (from `passkeys EMAIL`) of EMAIL; it stops signing in at once."""
    user = user_or_fail(email)
    try:
        remove_passkey(user, passkey_id, via=VIA, may_remove_last_way_in=True)
    except UnknownPasskey as error:
        fail(str(error))
    left = has_passkeys(user.id)
    if as_json:
        emit_json(
            {
                "email": user.email,
                "removed": passkey_id,
                "passkeys_left": left,
                "has_password": user.has_password,
            }
        )
        return
    click.echo(f"removed passkey {passkey_id} of {user.email}")
    if not left and not user.has_password:
        warn(
            f"{user.email} has no passkey and no password left: it cannot sign in until it "
            "gets a password (`user set-password`, or a password reset)"
        )
    elif not left:
        warn(f"{user.email} has no passkey left")

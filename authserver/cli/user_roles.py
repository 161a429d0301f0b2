"""``user role add|remove|list``: roles, released to clients as the ``roles`` claim."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.accounts.roles import add_role, list_roles, remove_role
from authserver.cli.output import emit_json, fail, json_option
from authserver.cli.user_lookup import user_or_fail
from authserver.models.types import utcnow
from authserver.security.errors import InvalidRole, RoleAlreadyAssigned, RoleNotAssigned

VIA = "cli"


@click.group("role")
def role_group() -> None:
    """A user's roles: sent as the `roles` claim to clients granted the `roles` scope."""


@role_group.command("add")
@click.argument("email")
@click.argument("role")
@json_option
@with_appcontext
def add_command(email: str, role: str, as_json: bool) -> None:
    """Give EMAIL the role ROLE (letters, digits and . _ : / -)."""
    user = user_or_fail(email)
    try:
        add_role(user, role, now=utcnow(), via=VIA)
    except (InvalidRole, RoleAlreadyAssigned) as error:
        fail(str(error))
    _print_roles(user.id, user.email, as_json=as_json, verb=f"added {role} to")


@role_group.command("remove")
@click.argument("email")
@click.argument("role")
@json_option
@with_appcontext
def remove_command(email: str, role: str, as_json: bool) -> None:
    """Take the role ROLE away from EMAIL (from its next token on)."""
    user = user_or_fail(email)
    try:
        remove_role(user, role, via=VIA)
    except RoleNotAssigned as error:
        fail(str(error))
    _print_roles(user.id, user.email, as_json=as_json, verb=f"removed {role} from")


@role_group.command("list")
@click.argument("email")
@json_option
@with_appcontext
def list_command(email: str, as_json: bool) -> None:
    """List the roles of EMAIL."""
    user = user_or_fail(email)
    _print_roles(user.id, user.email, as_json=as_json, verb=None)


def _print_roles(user_id: int, email: str, *, as_json: bool, verb: str | None) -> None:
    roles = list_roles(user_id)
    if as_json:
        emit_json({"email": email, "roles": roles})
        return
    if verb is not None:
        click.echo(f"{verb} {email}")
    click.echo(f"roles of {email}: {' '.join(roles) if roles else '(none)'}")

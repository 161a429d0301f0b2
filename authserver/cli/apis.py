"""``authserver api ...``: register and manage APIs (resource servers, RFC 8707)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from authserver.cli.client_output import print_client
from authserver.cli.client_update import LIFETIME, SERVER_DEFAULT
from authserver.cli.output import emit_json, fail, json_option
from authserver.oauth.apis import (
    ApiRegistration,
    delete_api,
    describe_api,
    get_api,
    list_apis,
    register_api,
    update_api,
)
from authserver.oauth.clients import MAX_ACCESS_TOKEN_TTL
from authserver.oauth.errors import ApiRegistrationError, UnknownApi


@click.group("api")
def api_group() -> None:
    """Register and manage APIs: the audiences access tokens can be issued for."""


@api_group.command("create")
@click.option(
    "--identifier",
    required=True,
    metavar="URI",
    help="Absolute URI: clients send it as `resource`, tokens carry it as `aud`.",
)
@click.option("--name", required=True, help="Shown to people when an app asks for this API.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="A scope of this API; repeat for several. Clients are allowed them with --scope.",
)
@click.option(
    "--access-token-ttl",
    type=int,
    metavar="SECONDS",
    help=f"Lifetime of this API's access tokens (at most {MAX_ACCESS_TOKEN_TTL}). "
    "Default: the client's, then the server setting.",
)
@json_option
@with_appcontext
def create(
    identifier: str,
    name: str,
    scopes: tuple[str, ...],
    access_token_ttl: int | None,
    as_json: bool,
) -> None:
    """Register an API."""
    registration = ApiRegistration(identifier, name, _split(scopes), access_token_ttl)
    try:
        api = register_api(registration, via="cli")
    except ApiRegistrationError as error:
        fail(*error.problems)
    print_client(describe_api(api), as_json=as_json)


@api_group.command("list")
@json_option
@with_appcontext
def list_command(as_json: bool) -> None:
    """List registered APIs."""
    apis = [describe_api(api) for api in list_apis()]
    if as_json:
        emit_json(apis)
        return
    for each in apis:
        click.echo(f"{each['identifier']}  {each['name']}  ({' '.join(each['scopes'])})")


@api_group.command("show")
@click.argument("identifier")
@json_option
@with_appcontext
def show(identifier: str, as_json: bool) -> None:
    """Show one API."""
    try:
        print_client(describe_api(get_api(identifier)), as_json=as_json)
    except UnknownApi:
        fail(f"no API with identifier {identifier!r}")


@api_group.command("update")
@click.argument("identifier")
@click.option("--name", help="Shown to people when an app asks for this API.")
@click.option(
    "--scope", "scopes", multiple=True, help="Replaces the API's scopes; repeat for several."
)
@click.option("--access-token-ttl", type=LIFETIME, help="Seconds, or 'default'.")
@json_option
@with_appcontext
def update(identifier: str, as_json: bool, **options: Any) -> None:
    """Change an API's name, scopes or token lifetime (its identifier never changes)."""
    changes: dict[str, Any] = {}
    if options["name"] is not None:
        changes["name"] = options["name"]
    if options["scopes"]:
        changes["scopes"] = _split(options["scopes"])
    ttl = options["access_token_ttl"]
    if ttl is not None:
        changes["access_token_ttl"] = None if ttl == SERVER_DEFAULT else ttl
    if not changes:
        fail("nothing to change: give at least one option (see --help)")
    try:
        api = update_api(identifier, changes, via="cli")
    except UnknownApi:
        fail(f"no API with identifier {identifier!r}")
    except ApiRegistrationError as error:
        fail(*error.problems)
    print_client(describe_api(api), as_json=as_json)


@api_group.command("delete")
@click.argument("identifier")
@json_option
@with_appcontext
def delete(identifier: str, as_json: bool) -> None:
    """Delete an API. Its tokens already issued stay valid at services until they expire."""
    try:
        released = delete_api(identifier, via="cli")
    except UnknownApi:
        fail(f"no API with identifier {identifier!r}")
    if as_json:
        emit_json(
            {"identifier": identifier, "deleted": True, "introspection_removed_from": released}
        )
        return
    click.echo(f"deleted API {identifier}")
    for client_id in released:
        click.echo(f"client {client_id} may no longer introspect its tokens")


def _split(scopes: tuple[str, ...]) -> list[str]:
    """`--scope a --scope b` and `--scope "a b"` mean the same."""
    return [scope for value in scopes for scope in value.split()]


def register(group: click.Group) -> None:
    group.add_command(api_group)

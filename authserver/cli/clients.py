"""``authserver client ...``: register and manage OAuth clients."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from authserver.cli.client_output import load_jwks, print_client
from authserver.cli.client_update import update_command
from authserver.cli.output import emit_json, fail, json_option
from authserver.oauth.clients import (
    AUTH_METHODS,
    GRANT_TYPES,
    MAX_ACCESS_TOKEN_TTL,
    MAX_ID_TOKEN_TTL,
    MAX_REFRESH_TOKEN_TTL,
    SIGNING_ALGORITHMS,
    ClientRegistration,
    delete_client,
    describe_client,
    get_client,
    list_clients,
    register_client,
    rotate_client_secret,
)
from authserver.oauth.errors import ClientRegistrationError, UnknownClient


@click.group("client")
def client_group() -> None:
    """Register and manage OAuth clients (relying parties)."""


@client_group.command("create")
@click.option("--name", required=True, help="Shown to users on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for several.")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    help="Repeat for several. Default: authorization_code and refresh_token.",
)
@click.option("--scope", default="openid profile email", show_default=True)
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--token-endpoint-auth-method", type=click.Choice(AUTH_METHODS))
@click.option("--skip-consent", is_flag=True, help="First-party app: never ask for consent.")
@click.option(
    "--require-mfa",
    is_flag=True,
    help="Every sign-in for this client needs a second factor (users without one set it up).",
)
@click.option(
    "--require-dpop/--no-require-dpop",
    default=False,
    help="Refuse token requests without a DPoP proof (RFC 9449), so every token is key-bound.",
)
@click.option(
    "--require-par/--no-require-par",
    default=False,
    help="Refuse authorization requests that were not pushed first (RFC 9126 PAR).",
)
@click.option("--jwks-file", type=click.Path(path_type=Path), help="JWK Set for private_key_jwt.")
@click.option("--id-token-alg", type=click.Choice(SIGNING_ALGORITHMS), default="RS256")
@click.option("--access-token-alg", type=click.Choice(SIGNING_ALGORITHMS), default="RS256")
@click.option(
    "--access-token-ttl",
    type=int,
    metavar="SECONDS",
    help=f"Access-token lifetime for this client (at most {MAX_ACCESS_TOKEN_TTL}). "
    "Default: the server setting.",
)
@click.option(
    "--id-token-ttl",
    type=int,
    metavar="SECONDS",
    help=f"ID-token lifetime (at most {MAX_ID_TOKEN_TTL}). Default: the server setting.",
)
@click.option(
    "--refresh-token-ttl",
    type=int,
    metavar="SECONDS",
    help=f"Refresh-token absolute lifetime (at most {MAX_REFRESH_TOKEN_TTL}). "
    "Default: the server setting.",
)
@click.option(
    "--introspect-api",
    "introspect_apis",
    multiple=True,
    metavar="URI",
    help="This client is that API's resource server: it may introspect the API's tokens. "
    "Repeat for several.",
)
@click.option(
    "--exchange-audience",
    "exchange_audiences",
    multiple=True,
    metavar="URI",
    help="With the token-exchange grant: an API this client may exchange a user's token for "
    "(RFC 8693). Repeat for several.",
)
@click.option(
    "--backchannel-logout-uri",
    metavar="URI",
    help="OIDC Back-Channel Logout: where a logout token is POSTed when a session in which the "
    "client got an ID token ends.",
)
@click.option(
    "--backchannel-logout-session-required",
    is_flag=True,
    help="The client needs `sid` in logout tokens (always sent).",
)
@json_option
@with_appcontext
def create(
    name: str,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scope: str,
    public: bool,
    post_logout_redirect_uris: tuple[str, ...],
    token_endpoint_auth_method: str | None,
    skip_consent: bool,
    require_mfa: bool,
    require_dpop: bool,
    require_par: bool,
    jwks_file: Path | None,
    id_token_alg: str,
    access_token_alg: str,
    access_token_ttl: int | None,
    id_token_ttl: int | None,
    refresh_token_ttl: int | None,
    introspect_apis: tuple[str, ...],
    exchange_audiences: tuple[str, ...],
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    as_json: bool,
) -> None:
    """Register a client; prints its client_id and, once, its client_secret."""
    if public and token_endpoint_auth_method not in (None, "none"):
        fail("--public clients authenticate with 'none'")
    registration = ClientRegistration(
        name=name,
        redirect_uris=redirect_uris,
        grant_types=grant_types or ("authorization_code", "refresh_token"),
        scope=scope,
        token_endpoint_auth_method="none"
        if public
        else (token_endpoint_auth_method or "client_secret_basic"),
        post_logout_redirect_uris=post_logout_redirect_uris,
        skip_consent=skip_consent,
        require_mfa=require_mfa,
        require_dpop=require_dpop,
        require_par=require_par,
        jwks=load_jwks(jwks_file),
        id_token_signed_response_alg=id_token_alg,
        access_token_signed_response_alg=access_token_alg,
        access_token_ttl=access_token_ttl,
        id_token_ttl=id_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        introspect_apis=introspect_apis,
        exchange_audiences=exchange_audiences,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
    )
    try:
        client, secret = register_client(registration, via="cli")
    except ClientRegistrationError as error:
        fail(*error.problems)
    described = describe_client(client)
    if secret is not None:
        described["client_secret"] = secret
    print_client(described, as_json=as_json)


@client_group.command("list")
@json_option
@with_appcontext
def list_command(as_json: bool) -> None:
    """List registered clients."""
    clients = [describe_client(client) for client in list_clients()]
    if as_json:
        emit_json(clients)
        return
    for each in clients:
        kind = "public" if each["public"] else "confidential"
        click.echo(f"{each['client_id']}  {kind:12}  {each['name']}")


@client_group.command("show")
@click.argument("client_id")
@json_option
@with_appcontext
def show(client_id: str, as_json: bool) -> None:
    """Show one client's registration."""
    try:
        print_client(describe_client(get_client(client_id)), as_json=as_json)
    except UnknownClient:
        fail(f"no client with client_id {client_id!r}")


@client_group.command("delete")
@click.argument("client_id")
@json_option
@with_appcontext
def delete(client_id: str, as_json: bool) -> None:
    """Delete a client with its codes, refresh tokens and consents."""
    try:
        delete_client(client_id, via="cli")
    except UnknownClient:
        fail(f"no client with client_id {client_id!r}")
    if as_json:
        emit_json({"client_id": client_id, "deleted": True})
    else:
        click.echo(f"deleted client {client_id}")


@client_group.command("rotate-secret")
@click.argument("client_id")
@json_option
@with_appcontext
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Replace a client's secret; prints the new one once. The old one stops working now."""
    try:
        secret = rotate_client_secret(client_id, via="cli")
    except UnknownClient:
        fail(f"no client with client_id {client_id!r}")
    except ClientRegistrationError as error:
        fail(*error.problems)
    if as_json:
        emit_json({"client_id": client_id, "client_secret": secret})
    else:
        click.echo(f"client_secret: {secret}")


def register(group: click.Group) -> None:
    client_group.add_command(update_command)
    group.add_command(client_group)

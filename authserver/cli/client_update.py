"""``authserver client update CLIENT_ID``: change a registered client.

Only the options given change anything. A repeated option (``--redirect-uri``) replaces the
whole list. Validation is the registration's (oauth/client_update.py); on any problem nothing
changes and every problem is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from authserver.cli.client_output import load_jwks, print_client
from authserver.cli.output import fail, json_option
from authserver.oauth.client_update import update_client
from authserver.oauth.clients import AUTH_METHODS, GRANT_TYPES, SIGNING_ALGORITHMS, describe_client
from authserver.oauth.errors import ClientRegistrationError, UnknownClient

SERVER_DEFAULT = "default"


class LifetimeType(click.ParamType[int | str, Any]):  # Any: whatever the command line gives
    """Seconds, or "default" for the server-wide setting (the value None stands for)."""

    name = "SECONDS|default"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | str:
        if isinstance(value, int):
            return value
        if value == SERVER_DEFAULT:
            return SERVER_DEFAULT
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of seconds nor 'default'", param, ctx)


LIFETIME = LifetimeType()


@click.command("update")
@click.argument("client_id")
@click.option("--name", help="Shown to users on the consent page.")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, help="Replaces the list; repeat for several."
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Replaces the list; repeat for several.",
)
@click.option(
    "--clear-post-logout-redirect-uris", is_flag=True, help="Remove every post-logout URI."
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    help="Replaces the list; repeat for several.",
)
@click.option("--scope", help="The scopes the client may ask for (replaces them).")
@click.option(
    "--token-endpoint-auth-method",
    type=click.Choice(AUTH_METHODS),
    help="Moving to a secret method prints a new secret once.",
)
@click.option("--skip-consent/--no-skip-consent", default=None, help="First-party app or not.")
@click.option("--require-mfa/--no-require-mfa", default=None, help="Demand a second factor.")
@click.option(
    "--require-dpop/--no-require-dpop", default=None, help="Refuse token requests without DPoP."
)
@click.option(
    "--require-par/--no-require-par",
    default=None,
    help="Refuse authorization requests that were not pushed first (RFC 9126).",
)
@click.option("--jwks-file", type=click.Path(path_type=Path), help="JWK Set for private_key_jwt.")
@click.option("--id-token-alg", type=click.Choice(SIGNING_ALGORITHMS))
@click.option("--access-token-alg", type=click.Choice(SIGNING_ALGORITHMS))
@click.option("--access-token-ttl", type=LIFETIME, help="Seconds, or 'default' (server setting).")
@click.option("--id-token-ttl", type=LIFETIME, help="Seconds, or 'default' (server setting).")
@click.option("--refresh-token-ttl", type=LIFETIME, help="Seconds, or 'default' (server setting).")
@click.option(
    "--introspect-api",
    "introspect_apis",
    multiple=True,
    metavar="URI",
    help="Replaces the APIs whose tokens this client may introspect; repeat for several.",
)
@click.option("--clear-introspect-apis", is_flag=True, help="It may introspect no API's tokens.")
@click.option(
    "--exchange-audience",
    "exchange_audiences",
    multiple=True,
    metavar="URI",
    help="Replaces the APIs this client may exchange a user's token for; repeat for several.",
)
@click.option("--clear-exchange-audiences", is_flag=True, help="It may exchange tokens for no API.")
@click.option("--backchannel-logout-uri", metavar="URI", help="Where logout tokens are POSTed.")
@click.option(
    "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
    default=None,
    help="The client needs `sid` in logout tokens (always sent).",
)
@click.option(
    "--clear-backchannel-logout-uri",
    is_flag=True,
    help="Send this client no logout tokens (clears the session-required flag too).",
)
@json_option
@with_appcontext
def update_command(client_id: str, **options: Any) -> None:
    """Change a client's registration; prints the client as it is now."""
    as_json: bool = options.pop("as_json")
    changes = _changes(options)
    if not changes:
        fail("nothing to change: give at least one option (see --help)")
    try:
        result = update_client(client_id, changes, via="cli")
    except UnknownClient:
        fail(f"no client with client_id {client_id!r}")
    except ClientRegistrationError as error:
        fail(*error.problems)
    described = describe_client(result.client)
    described["changed"] = list(result.changed)
    if result.secret is not None:
        described["client_secret"] = result.secret
    print_client(described, as_json=as_json)


# Command-line option -> ClientRegistration field, where the names differ.
_FIELD_NAMES = {
    "id_token_alg": "id_token_signed_response_alg",
    "access_token_alg": "access_token_signed_response_alg",
}
_LIFETIMES = ("access_token_ttl", "id_token_ttl", "refresh_token_ttl")


# Stands for "set to None" where None means "not given" (`--clear-backchannel-logout-uri`).
_CLEARED = object()

# A `--clear-...` flag -> the list option it empties.
_CLEARED_LISTS = {
    "clear_post_logout_redirect_uris": ("post_logout_redirect_uris", "--post-logout-redirect-uri"),
    "clear_introspect_apis": ("introspect_apis", "--introspect-api"),
    "clear_exchange_audiences": ("exchange_audiences", "--exchange-audience"),
}


def _changes(options: dict[str, Any]) -> dict[str, Any]:
    """The options actually given, as ClientRegistration fields and values."""
    cleared: list[str] = []
    for flag, (field, option) in _CLEARED_LISTS.items():
        if not options.pop(flag):
            continue
        if options[field]:
            fail(f"--{flag.replace('_', '-')} and {option} contradict")
        cleared.append(field)
    if options.pop("clear_backchannel_logout_uri"):
        if options["backchannel_logout_uri"] is not None:
            fail("--clear-backchannel-logout-uri and --backchannel-logout-uri contradict")
        if options["backchannel_logout_session_required"]:
            fail(
                "--clear-backchannel-logout-uri and --backchannel-logout-session-required "
                "contradict"
            )
        options["backchannel_logout_uri"] = _CLEARED
        options["backchannel_logout_session_required"] = False
    jwks_file: Path | None = options.pop("jwks_file")
    changes: dict[str, Any] = {}
    for option, value in options.items():
        if value is None or value == ():
            continue  # not given (a multiple option not given is an empty tuple)
        if option in _LIFETIMES and value == SERVER_DEFAULT:
            value = None
        if value is _CLEARED:
            value = None
        changes[_FIELD_NAMES.get(option, option)] = value
    for field in cleared:
        changes[field] = ()
    if jwks_file is not None:
        changes["jwks"] = load_jwks(jwks_file)
    return changes

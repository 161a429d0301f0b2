"""``keys list|rotate|advance|retire``: signing keys, never their private halves."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from authserver.cli.output import emit_json, fail, json_option
from authserver.config import current_settings
from authserver.keys.errors import KeysError
from authserver.keys.manager import LifecycleReport, advance_lifecycle, list_keys, rotate_keys
from authserver.keys.retirement import retire_key
from authserver.keys.rotation import longest_client_token_lifetime
from authserver.models.keys import SigningAlg, SigningKey
from authserver.models.types import utcnow

ALG_CHOICE = click.Choice([alg.value for alg in SigningAlg])


@click.group("keys")
def keys() -> None:
    """Token-signing keys: list, rotate and retire them, run their scheduled lifecycle."""


@keys.command("list")
@json_option
@with_appcontext
def list_command(as_json: bool) -> None:
    """List every signing key with its state and times (public information only)."""
    described = [describe_key(key) for key in list_keys()]
    if as_json:
        emit_json({"keys": described})
        return
    if not described:
        click.echo("no signing keys (run `authserver init`)")
        return
    columns = ("kid", "alg", "state", "created_at", "activated_at", "retired_at")
    rows = [columns, *[tuple(row[name] or "-" for name in columns) for row in described]]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@keys.command("rotate")
@click.option(
    "--alg", "algs", type=ALG_CHOICE, multiple=True, help="Only this algorithm (repeatable)."
)
@click.option(
    "--immediately",
    is_flag=True,
    help="Activate a fresh key now (key compromise); verifiers may briefly not know its kid.",
)
@json_option
@with_appcontext
def rotate_command(algs: tuple[str, ...], immediately: bool, as_json: bool) -> None:
    """Start a key rotation now: publish next keys, or with --immediately replace keys at once."""
    try:
        report = rotate_keys(
            now=utcnow(),
            settings=current_settings(),
            algs=algs or None,
            immediately=immediately,
            via="cli",
        )
    except KeysError as error:
        fail(str(error))
    _print_report(report, as_json=as_json)


@keys.command("advance")
@json_option
@with_appcontext
def advance_command(as_json: bool) -> None:
    """Promote, prepare and remove keys as their ages require. Run it every few minutes."""
    try:
        report = advance_lifecycle(
            now=utcnow(),
            settings=current_settings(),
            max_token_lifetime_seconds=longest_client_token_lifetime(),
            via="cli",
        )
    except KeysError as error:
        fail(str(error))
    _print_report(report, as_json=as_json)


@keys.command("retire")
@click.argument("kid")
@click.option(
    "--remove",
    is_flag=True,
    help="Also take the key out of the JWKS now: tokens it signed stop verifying (compromise).",
)
@json_option
@with_appcontext
def retire_command(kid: str, remove: bool, as_json: bool) -> None:
    """Retire the key KID now, e.g. after a suspected compromise.

    An active key is retired only when a next key of its algorithm is waiting: that key becomes
    active at once. The server is never left without an active key; without a next key this
    refuses and says what to run instead. A retired key stays in the JWKS until the tokens it
    signed have expired, unless --remove is given. A kid made before kids stopped starting
    with "-" is given after "--": `authserver keys retire -- -abc...`.
    """
    try:
        retirement = retire_key(kid, now=utcnow(), settings=current_settings(), remove=remove)
    except KeysError as error:
        fail(str(error))
    early = retirement.successor_published_early
    if as_json:
        emit_json({**retirement.report.as_dict(), "successor_published_early": early})
        return
    _print_report(retirement.report, as_json=False)
    if early:
        click.echo(
            "note: the new active key was published less than the JWKS cache lifetime ago; "
            "verifiers with an older cached JWKS must refetch it to know its kid"
        )


def describe_key(key: SigningKey) -> dict[str, str | None]:
    return {
        "kid": key.kid,
        "alg": key.alg.value,
        "state": key.state.value,
        "created_at": _iso(key.created_at),
        "activated_at": _iso(key.activated_at),
        "retired_at": _iso(key.retired_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _print_report(report: LifecycleReport, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    lines = _report_lines(report)
    for line in lines or ["nothing to do"]:
        click.echo(line)


def _report_lines(report: LifecycleReport) -> list[str]:
    lines = [f"{ref.alg.value}: removed key {ref.kid}" for ref in report.removed]
    lines += [f"{ref.alg.value}: retired key {ref.kid} (still published)" for ref in report.retired]
    lines += [
        f"{ref.alg.value}: published next key {ref.kid}; "
        f"`keys advance` activates it from {_iso(ref.activates_at)}"
        for ref in report.created
        if ref.activates_at is not None  # keys activated at once are reported below
    ]
    lines += [f"{ref.alg.value}: key {ref.kid} is now active" for ref in report.activated]
    lines += [
        f"{ref.alg.value}: next key {ref.kid} was already published; "
        f"`keys advance` activates it from {_iso(ref.activates_at)}"
        for ref in report.kept_next
    ]
    return lines


def register(group: click.Group) -> None:
    group.add_command(keys)

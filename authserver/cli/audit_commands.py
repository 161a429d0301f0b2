"""``audit list`` and ``audit export``: read the audit trail, filtered.

``--user`` takes an e-mail address (of an existing account) or a subject (which also finds
events of deleted accounts). ``--since``/``--until`` take ISO 8601 dates or times; a time
without an offset is UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import with_appcontext

from authserver.accounts.lifecycle import find_user_by_email
from authserver.audit.search import AuditFilter, describe_event, export_events, latest_events
from authserver.cli.output import emit_json, fail, json_option

DEFAULT_LIST_LIMIT = 50


class MomentType(click.ParamType[datetime, Any]):  # Any: whatever the command line gives
    """An ISO 8601 date or date-time, as an aware UTC datetime."""

    name = "ISO-8601"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (2026-11-22T10:00Z)", param, ctx)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


MOMENT = MomentType()


def filter_options(command: Any) -> Any:  # Any: click's decorator protocol
    for option in reversed(
        (
            click.option("--user", help="An account's e-mail address, or a subject."),
            click.option("--event", help="An event tag, or a prefix ending in * (admin:*)."),
            click.option("--since", type=MOMENT, help="From this moment on (inclusive)."),
            click.option("--until", type=MOMENT, help="Before this moment (exclusive)."),
        )
    ):
        command = option(command)
    return command


@click.group("audit")
def audit() -> None:
    """Read the audit trail (security events and administrators' actions)."""


@audit.command("list")
@filter_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIST_LIMIT,
    show_default=True,
    help="At most this many events.",
)
@json_option
@with_appcontext
def list_command(
    user: str | None,
    event: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest matching events, newest first."""
    events = [
        describe_event(each)
        for each in latest_events(_filter(user, event, since, until), limit=limit)
    ]
    if as_json:
        emit_json(events)
        return
    _print_table(events)


@audit.command("export")
@filter_options
@with_appcontext
def export_command(
    user: str | None, event: str | None, since: datetime | None, until: datetime | None
) -> None:
    """Every matching event as JSON lines, oldest first (streamed; fine for millions)."""
    for described in export_events(_filter(user, event, since, until)):
        click.echo(json.dumps(described, sort_keys=True, separators=(",", ":")))


def _filter(
    user: str | None, event: str | None, since: datetime | None, until: datetime | None
) -> AuditFilter:
    if since is not None and until is not None and since >= until:
        fail("--since must be before --until")
    return AuditFilter(user_subject=_subject(user), event=event, since=since, until=until)


def _subject(user: str | None) -> str | None:
    if user is None or "@" not in user:
        return user
    account = find_user_by_email(user)
    if account is None:
        fail(f"no account with email {user} (pass its subject to find a deleted account's events)")
    return account.subject


COLUMNS = ("occurred_at", "event", "outcome", "user_subject", "client_id", "detail")


def _print_table(events: list[dict[str, Any]]) -> None:
    if not events:
        click.echo("no matching events")
        return
    rows = [COLUMNS, *[tuple(_cell(event, name) for name in COLUMNS) for event in events]]
    # The last column (detail) is not padded: it is free-form and often long.
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def _cell(event: dict[str, Any], name: str) -> str:
    value = event[name]
    if name == "detail":
        return json.dumps(value, sort_keys=True, separators=(",", ":")) if value else "-"
    if name == "occurred_at":
        return datetime.fromisoformat(value).isoformat(timespec="seconds")
    return "-" if value is None else str(value)


def register(group: click.Group) -> None:
    group.add_command(audit)

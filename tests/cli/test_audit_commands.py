"""``authserver audit list|export``: the audit trail, filtered, as a table, JSON or JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from tests.factories import make_user
from tests.support.cli import Cli

DAY_ONE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def recorded(tag: EventTag, at: datetime, **fields: object) -> None:
    """An event written by the real writer, dated as if it happened at ``at``."""
    event = record_event(tag, **fields)  # type: ignore[arg-type]
    event.occurred_at = at
    db.session.commit()


@pytest.fixture
def trail(app: Flask) -> dict[str, str]:
    alice = make_user("alice@example.org")
    bob = make_user("bob@example.org")
    recorded(EventTag.LOGIN, DAY_ONE, user_subject=alice.subject)
    recorded(
        EventTag.LOGIN_FAILURE,
        DAY_ONE + timedelta(hours=1),
        outcome="failure",
        user_subject=bob.subject,
        detail={"reason": "password"},
    )
    recorded(
        EventTag.ADMIN_USER_DISABLED,
        DAY_ONE + timedelta(days=1),
        user_subject=bob.subject,
        detail={"via": "cli"},
    )
    recorded(
        EventTag.ADMIN_ROLE_ADDED,
        DAY_ONE + timedelta(days=2),
        user_subject=alice.subject,
        detail={"role": "admin", "via": "cli"},
    )
    return {"alice": alice.subject, "bob": bob.subject}


def events(listed: list[dict[str, object]]) -> list[object]:
    return [each["event"] for each in listed]


def test_list_is_newest_first_and_filters(app: Flask, cli: Cli, trail: dict[str, str]) -> None:
    assert events(cli.json("audit", "list", "--limit", "3")) == [
        "admin:user:role-add",
        "admin:user:disable",
        "user:login:failure",
    ]
    assert events(cli.json("audit", "list", "--user", "BOB@example.org")) == [
        "admin:user:disable",
        "user:login:failure",
    ]
    assert events(cli.json("audit", "list", "--user", trail["alice"], "--event", "admin:*")) == [
        "admin:user:role-add",
    ]
    assert events(
        cli.json(
            "audit",
            "list",
            *("--event", "user:login:failure", "--since", "2026-03-01T13:00:00Z"),
            *("--until", "2026-03-03"),
        )
    ) == ["user:login:failure"]


def test_list_json_describes_each_event(app: Flask, cli: Cli, trail: dict[str, str]) -> None:
    [failure] = cli.json("audit", "list", "--event", "user:login:failure")

    assert failure == {
        "id": failure["id"],
        "occurred_at": "2026-03-01T13:00:00+00:00",
        "event": "user:login:failure",
        "outcome": "failure",
        "user_subject": trail["bob"],
        "client_id": None,
        "ip": None,
        "user_agent": None,
        "request_id": None,
        "detail": {"reason": "password"},
    }


def test_list_prints_a_table(app: Flask, cli: Cli, trail: dict[str, str]) -> None:
    lines = cli.ok("audit", "list", "--user", "bob@example.org").splitlines()

    assert lines[0].split() == [
        "occurred_at", "event", "outcome", "user_subject", "client_id", "detail",
    ]  # fmt: skip
    assert lines[1].split() == [
        "2026-03-02T12:00:00+00:00", "admin:user:disable", "success", trail["bob"], "-",
        '{"via":"cli"}',
    ]  # fmt: skip
    assert lines[2].split()[1:3] == ["user:login:failure", "failure"]
    assert len(lines) == 3


def test_list_with_nothing_matching_says_so(app: Flask, cli: Cli) -> None:
    assert cli.ok("audit", "list", "--event", "user:login") == "no matching events\n"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--user", "nobody@example.org"), "error: no account with email nobody@example.org"),
        (
            ("--since", "2026-03-02", "--until", "2026-03-01"),
            "error: --since must be before --until",
        ),
    ],
)
def test_list_refuses_filters_that_cannot_match(
    app: Flask, cli: Cli, args: tuple[str, ...], problem: str
) -> None:
    assert cli.fails("audit", "list", *args).startswith(problem)


def test_a_date_that_is_not_iso_8601_is_a_usage_error(app: Flask, cli: Cli) -> None:
    result = cli("audit", "export", "--since", "last tuesday")

    assert result.returncode == 2
    assert "'last tuesday' is not an ISO 8601 date or time" in result.stderr


def test_export_streams_every_event_as_json_lines_oldest_first(app: Flask, cli: Cli) -> None:
    # More than two export batches (1000 rows each), so the pagination seams are crossed.
    for number in range(2345):
        record_event(EventTag.LOGIN, user_subject=f"subject-{number}")
    db.session.commit()

    lines = cli.ok("audit", "export").splitlines()

    exported = [json.loads(line) for line in lines]
    assert [each["user_subject"] for each in exported] == [f"subject-{n}" for n in range(2345)]
    assert len({each["id"] for each in exported}) == 2345


def test_export_applies_the_same_filters(app: Flask, cli: Cli, trail: dict[str, str]) -> None:
    lines = cli.ok("audit", "export", "--user", "alice@example.org", "--since", "2026-03-02")

    assert [json.loads(line)["event"] for line in lines.splitlines()] == ["admin:user:role-add"]

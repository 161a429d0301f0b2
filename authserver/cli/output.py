"""How commands print: plain lines for people, ``--json`` for scripts, errors to stderr."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text."
)


def emit_json(data: Any) -> None:  # Any: whatever JSON-serialisable value the command built
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def fail(*problems: str) -> NoReturn:
    """Print each problem on its own line to stderr and exit 1 (2 is click's usage error)."""
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise click.exceptions.Exit(1)


def warn(*problems: str) -> None:
    """Say on stderr what a command that did what it was asked could not also do (exit 0)."""
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)

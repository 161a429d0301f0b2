"""How the ``client`` commands print a client and read a JWK Set file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from authserver.cli.output import emit_json, fail


def print_client(described: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        emit_json(described)
        return
    for name, value in described.items():
        if isinstance(value, list):
            shown = " ".join(map(str, value))
        elif value is None and name.endswith("_ttl"):
            shown = "server setting"
        else:
            shown = str(value)
        click.echo(f"{name}: {shown}".rstrip())  # an empty list leaves no trailing space


def load_jwks(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"--jwks-file: cannot read a JSON JWK Set from {str(path)!r} ({exc})")
    if not isinstance(loaded, dict):
        fail("--jwks-file: expected a JSON object with a 'keys' list")
    return loaded

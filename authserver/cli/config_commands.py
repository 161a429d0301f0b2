"""``check-config`` and ``generate-secrets``."""

from __future__ import annotations

import click

from authserver.cli.output import emit_json, fail, json_option
from authserver.config import ConfigError, Settings
from authserver.dev_secrets import new_encryption_key, new_secret_key


@click.command("check-config")
@json_option
def check_config(as_json: bool) -> None:
    """Validate the configuration and print the effective settings, secrets masked."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        fail(*error.problems)
    described = settings.describe()
    if as_json:
        emit_json({"settings": described, "warnings": list(settings.warnings)})
        return
    width = max(len(name) for name in described)
    for name, value in described.items():
        shown = ",".join(value) if isinstance(value, list) else value
        click.echo(f"{name.ljust(width)}  {'' if shown is None else shown}")
    for warning in settings.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command("generate-secrets")
@json_option
def generate_secrets(as_json: bool) -> None:
    """Print fresh AUTHSERVER_SECRET_KEY and AUTHSERVER_ENCRYPTION_KEYS as `.env` lines."""
    values = {
        "AUTHSERVER_SECRET_KEY": new_secret_key(),
        "AUTHSERVER_ENCRYPTION_KEYS": new_encryption_key(),
    }
    if as_json:
        emit_json(values)
        return
    for name, value in values.items():
        click.echo(f"{name}={value}")


def register(group: click.Group) -> None:
    group.add_command(check_config)
    group.add_command(generate_secrets)

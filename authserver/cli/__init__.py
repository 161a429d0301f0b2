"""The ``authserver`` admin command line: a click group with one module per noun."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import ScriptInfo
from flask_migrate.cli import db as db_commands

from authserver import create_app
from authserver.cli import (
    apis,
    audit_commands,
    clients,
    config_commands,
    init_command,
    keys_commands,
    maintenance_commands,
    privacy_commands,
    secrets_commands,
    serve_command,
    users,
)
from authserver.cli.output import fail
from authserver.config import ConfigError
from authserver.observability.logging import send_logs_to


def create_app_or_exit() -> Flask:
    """Build the app for a command; a bad configuration is a clean message, not a traceback."""
    try:
        return create_app()
    except ConfigError as error:
        fail(*error.problems)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """authserver: an OAuth 2.0 / OpenID Connect identity provider."""
    # A command's stdout is its output (`--json` is parsed by scripts); its logs go to stderr.
    send_logs_to("stderr")
    # Tests hand in a ScriptInfo bound to their own app; only build one when nobody did.
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=create_app_or_exit)


main.add_command(db_commands, "db")
for module in (
    config_commands,
    init_command,
    keys_commands,
    serve_command,
    users,
    privacy_commands,
    clients,
    apis,
    audit_commands,
    maintenance_commands,
    secrets_commands,
):
    module.register(main)

"""Helpers the ``user`` commands share: finding the account named on the command line, and
reading a password without it ever appearing in the process list or shell history."""

from __future__ import annotations

import sys

import click

from authserver.accounts.lifecycle import find_user_by_email
from authserver.cli.output import fail
from authserver.models import User


def user_or_fail(email: str) -> User:
    """The account with this address, or exit 1 saying there is none."""
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    return user


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, so `printf '%s\n' "$PASSWORD" | authserver user create ...` works; only the
        # line ending is removed, spaces are part of the password.
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password

"""``user disable|enable|set-password|sessions|revoke-sessions``: an account's access.

Disabling, setting a password and revoking sessions end every browser session, refresh token
and access token of the account at once (accounts/administration.py says why).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from authserver.accounts.administration import (
    disable_user,
    enable_user,
    revoke_user_sessions,
    set_password,
)
from authserver.cli.output import emit_json, fail, json_option, warn
from authserver.cli.user_lookup import read_password, user_or_fail
from authserver.models.types import utcnow
from authserver.security.errors import AccountStateUnchanged, PasswordPolicyError
from authserver.sessions import list_active_sessions

VIA = "cli"


@click.command("disable")
@click.argument("email")
@json_option
@with_appcontext
def disable_command(email: str, as_json: bool) -> None:
    """Stop EMAIL from signing in, and end all its sessions and tokens now."""
    user = user_or_fail(email)
    try:
        ended = disable_user(user, now=utcnow(), via=VIA)
    except AccountStateUnchanged as error:
        fail(str(error))
    if as_json:
        emit_json({"email": user.email, "is_disabled": True, "sessions_ended": ended.sessions})
    else:
        click.echo(f"disabled {user.email}; ended {ended.sessions} session(s) and all tokens")


@click.command("enable")
@click.argument("email")
@json_option
@with_appcontext
def enable_command(email: str, as_json: bool) -> None:
    """Let a disabled account sign in again (what disabling ended stays ended)."""
    user = user_or_fail(email)
    try:
        enable_user(user, now=utcnow(), via=VIA)
    except AccountStateUnchanged as error:
        fail(str(error))
    if as_json:
        emit_json({"email": user.email, "is_disabled": False})
    else:
        click.echo(f"enabled {user.email}")


@click.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@json_option
@with_appcontext
def set_password_command(email: str, password_stdin: bool, as_json: bool) -> None:
    """Set a new password for EMAIL (the password policy applies).

    Every session and token of the account ends, sign-in locks are lifted, and the owner is
    told by mail. Prompts for the password unless --password-stdin is given.
    """
    user = user_or_fail(email)
    password = read_password(password_stdin)
    try:
        ended = set_password(user, password, now=utcnow(), via=VIA)
    except PasswordPolicyError as error:
        fail(str(error))
    if not ended.owner_notified:
        warn(
            f"the password is set, but the notice to {user.email} could not be mailed "
            "(the reason is in the log); tell the owner another way"
        )
    if as_json:
        emit_json({"email": user.email, "password_set": True, "sessions_ended": ended.sessions})
    else:
        click.echo(
            f"password set for {user.email}; ended {ended.sessions} session(s) and all tokens"
        )


@click.command("sessions")
@click.argument("email")
@json_option
@with_appcontext
def sessions_command(email: str, as_json: bool) -> None:
    """List the browsers where EMAIL is signed in, most recently seen first."""
    user = user_or_fail(email)
    sessions = list_active_sessions(user, now=utcnow(), current_sid=None)
    described = [
        {
            "sid": each.sid,
            "device": each.device,
            "ip": each.ip,
            "signed_in_at": each.signed_in_at.isoformat(timespec="seconds"),
            "last_seen_at": each.last_seen_at.isoformat(timespec="seconds"),
        }
        for each in sessions
    ]
    if as_json:
        emit_json(described)
        return
    if not described:
        click.echo(f"{user.email} is not signed in anywhere")
    for row in described:
        click.echo(
            f"{row['sid']}  {row['device']}  {row['ip'] or '-'}  "
            f"signed in {row['signed_in_at']}  last seen {row['last_seen_at']}"
        )


@click.command("revoke-sessions")
@click.argument("email")
@json_option
@with_appcontext
def revoke_sessions_command(email: str, as_json: bool) -> None:
    """Sign EMAIL out everywhere: every browser session, refresh token and access token."""
    user = user_or_fail(email)
    ended = revoke_user_sessions(user, now=utcnow(), via=VIA)
    if as_json:
        emit_json({"email": user.email, "sessions_ended": ended.sessions, "tokens_ended": True})
    else:
        click.echo(f"signed {user.email} out: ended {ended.sessions} session(s) and all tokens")


COMMANDS = (
    disable_command,
    enable_command,
    set_password_command,
    sessions_command,
    revoke_sessions_command,
)

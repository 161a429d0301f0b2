"""``user``: create, list, show and unlock accounts, mail verification links, reset MFA.

Disabling, passwords and sessions are in user_access.py; roles in user_roles.py; passkeys in
user_passkeys.py. Passwords,
hashes and secrets are never printed.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from authserver.accounts.email_verification import send_email_verification
from authserver.accounts.invitations import invite
from authserver.accounts.lifecycle import create_user, find_user_by_email, list_users
from authserver.accounts.roles import list_roles
from authserver.cli import user_access, user_passkeys, user_roles
from authserver.cli.output import emit_json, fail, json_option, warn
from authserver.cli.user_lookup import read_password
from authserver.config_languages import SOURCE_LANGUAGE
from authserver.mail import MailDeliveryError, send
from authserver.models import User
from authserver.models.types import utcnow
from authserver.security.errors import (
    EmailAlreadyRegistered,
    EmailAlreadyVerified,
    InvalidEmail,
    InvalidName,
    MfaNotEnrolled,
    PasswordPolicyError,
    RegistrationClosed,
)
from authserver.security.lockout import unlock
from authserver.security.mfa.second_factor import is_enrolled, reset_mfa
from authserver.web.languages import shipped_languages


def describe(user: User) -> dict[str, Any]:  # Any: JSON values of several types
    """What an operator may see of an account: an allow-list, so new columns stay private."""
    return {
        "subject": user.subject,
        "email": user.email,
        "name": user.name,
        "email_verified": user.is_email_verified,
        "is_disabled": user.is_disabled,
        "mfa_enabled": is_enrolled(user.id),
        "roles": list_roles(user.id),
        "created_at": user.created_at.isoformat(),
        # cli, invitation or sign-up (accounts/registration.py).
        "created_via": user.created_via,
        # When sign-in from unrecognised browsers is locked until; a past time means unlocked.
        "locked_until": None if user.locked_until is None else user.locked_until.isoformat(),
        "is_locked": user.locked_until is not None and user.locked_until > utcnow(),
        "failed_logins": user.failed_logins,
    }


@click.group("user")
def user_group() -> None:
    """Manage user accounts."""


MAIL_FAILED = "the verification mail could not be sent (the reason is in the log)"


@user_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--name", help="Display name.")
@click.option(
    "--verified",
    is_flag=True,
    help="Mark the address verified instead of mailing a verification link.",
)
@json_option
@with_appcontext
def create(
    email: str, password_stdin: bool, name: str | None, verified: bool, as_json: bool
) -> None:
    """Create an account and mail it a verification link (unless --verified).

    Prompts for the password unless --password-stdin is given.
    """
    password = read_password(password_stdin)
    try:
        user = create_user(
            email, password, name=name, email_verified_at=utcnow() if verified else None
        )
    except (InvalidEmail, InvalidName, PasswordPolicyError, EmailAlreadyRegistered) as error:
        fail(str(error))
    # The account exists from here on: whatever happens to the mail, the command did what it
    # was asked and exits 0, so a script does not retry a create that can only fail now.
    mail_sent = not verified and _send_verification_or_warn(user)
    if as_json:
        emit_json(describe(user))
        return
    click.echo(f"created {user.email} (subject {user.subject})")
    if mail_sent:
        click.echo(f"verification link sent to {user.email}")


def _send_verification_or_warn(user: User) -> bool:
    try:
        send_email_verification(user, now=utcnow())
    except MailDeliveryError:
        warn(
            f"created {user.email}, but {MAIL_FAILED}; once mail works, run "
            f"`authserver user send-verification {user.email}`"
        )
        return False
    return True


@user_group.command("invite")
@click.argument("email")
@click.option("--name", help="Display name for the account.")
@click.option(
    "--language",
    default=SOURCE_LANGUAGE,
    show_default=True,
    help="Language of the invitation mail: one the server ships (see the language switcher).",
)
@json_option
@with_appcontext
def invite_command(email: str, name: str | None, language: str, as_json: bool) -> None:
    """Mail EMAIL a single-use link to create an account (its address then verified).

    The link works for AUTHSERVER_INVITATION_TTL (7 days by default); a new invitation to the
    same address replaces the earlier one. --json prints the link too, to pass on another way.
    """
    if language not in shipped_languages():
        fail(f"unknown language {language!r}; this server ships {', '.join(shipped_languages())}")
    try:
        issued = invite(email, name=name, language=language, now=utcnow())
    except (RegistrationClosed, InvalidEmail, InvalidName, EmailAlreadyRegistered) as error:
        fail(str(error))
    # The invitation exists from here on: a mail failure is a warning, and --json still gives
    # the operator the link to send another way.
    try:
        send(issued.mail)
        mailed = True
    except MailDeliveryError:
        mailed = False
        warn(f"invited {issued.email}, but the invitation mail could not be sent")
    if as_json:
        emit_json(
            {
                "email": issued.email,
                "link": issued.link,
                "expires_at": issued.expires_at.isoformat(),
                "mailed": mailed,
            }
        )
        return
    if mailed:
        click.echo(
            f"invitation sent to {issued.email}, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC"
        )


@user_group.command("send-verification")
@click.argument("email")
@with_appcontext
def send_verification(email: str) -> None:
    """Mail EMAIL a new verification link; earlier links stop working."""
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    try:
        send_email_verification(user, now=utcnow())
    except EmailAlreadyVerified as error:
        fail(str(error))
    except MailDeliveryError:
        fail(MAIL_FAILED)
    click.echo(f"verification link sent to {user.email}")


@user_group.command("list")
@click.option(
    "--disabled/--enabled",
    "disabled",
    default=None,
    help="Only disabled (or only enabled) accounts. Default: both.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many accounts.")
@json_option
@with_appcontext
def list_command(disabled: bool | None, limit: int | None, as_json: bool) -> None:
    """List accounts, oldest first."""
    users = [describe(user) for user in list_users(disabled=disabled, limit=limit)]
    if as_json:
        emit_json(users)
        return
    for user in users:
        status = "disabled" if user["is_disabled"] else "active"
        line = f"{user['subject']}  {user['email']}  {status}  {user['created_via']}"
        click.echo(f"{line}  {user['name'] or ''}".rstrip())


@user_group.command("show")
@click.argument("email")
@json_option
@with_appcontext
def show(email: str, as_json: bool) -> None:
    """Show one account."""
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    # Only here, not in every listing: false for an account that signs in with passkeys only.
    described = {**describe(user), "has_password": user.has_password}
    if as_json:
        emit_json(described)
        return
    width = max(len(key) for key in described)
    for key, value in described.items():
        shown = " ".join(value) if isinstance(value, list) else "" if value is None else value
        click.echo(f"{key.ljust(width)}  {shown}".rstrip())


@user_group.command("unlock")
@click.argument("email")
@json_option
@with_appcontext
def unlock_command(email: str, as_json: bool) -> None:
    """Lift a sign-in lock on an account (and on its browsers) and zero its failure counts."""
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    was_locked = unlock(user, now=utcnow(), by="admin")
    if as_json:
        emit_json({"email": user.email, "was_locked": was_locked})
    elif was_locked:
        click.echo(f"unlocked {user.email}")
    else:
        click.echo(f"{user.email} was not locked; its failure counts are zero now")


@user_group.command("reset-mfa")
@click.argument("email")
@json_option
@with_appcontext
def reset_mfa_command(email: str, as_json: bool) -> None:
    """Remove an account's authenticator app and recovery codes (audited).

    For someone who lost both: they then sign in with their password alone and can set up a
    new authenticator app. Check who is asking before running it.
    """
    user = find_user_by_email(email)
    if user is None:
        fail(f"no account with email {email}")
    try:
        reset_mfa(user, via="cli")
    except MfaNotEnrolled:
        fail(f"{user.email} has no authenticator app; nothing was changed")
    if as_json:
        emit_json({"email": user.email, "subject": user.subject, "mfa_enabled": False})
    else:
        click.echo(f"removed the authenticator app and recovery codes of {user.email}")


def register(group: click.Group) -> None:
    for command in user_access.COMMANDS:
        user_group.add_command(command)
    user_group.add_command(user_roles.role_group)
    user_group.add_command(user_passkeys.passkeys_group)
    group.add_command(user_group)

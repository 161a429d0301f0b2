"""``authserver user list|show|disable|enable|set-password|sessions|revoke-sessions``.

The installed command runs in a subprocess against the test database; what it did is checked
through the server's own surfaces (sign-in, userinfo, the token endpoint) and the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from authserver.accounts.lifecycle import authenticate
from authserver.accounts.roles import add_role
from authserver.keys.manager import ensure_active_keys
from authserver.models.types import utcnow
from authserver.security.errors import InvalidCredentials
from tests.cli.admin_support import audit_rows, refresh, signed_in_grant, userinfo
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import (
    SAFARI_IPHONE,
    browser,
    is_signed_in,
    signed_in_browser,
    snapshot,
    the_user,
)
from tests.support.cli import Cli
from tests.support.smtp import free_port
from tests.support.web import sign_in

NEW_PASSWORD = "a completely different passphrase"


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))


# --- list and show -----------------------------------------------------------------------------


def test_list_filters_by_state_and_limits(app: Flask, cli: Cli) -> None:
    first = make_user("first@example.org")
    make_user("second@example.org", disabled=True)
    make_user("third@example.org")

    disabled = cli.json("user", "list", "--disabled")
    text = cli.ok("user", "list", "--enabled", "--limit", "1")

    assert [each["email"] for each in disabled] == ["second@example.org"]
    assert text == f"{first.subject}  first@example.org  active  cli\n"


def test_list_refuses_a_limit_below_one(app: Flask, cli: Cli) -> None:
    result = cli("user", "list", "--limit", "0")

    assert result.returncode == 2
    assert "Invalid value for '--limit'" in result.stderr


def test_show_tells_roles_mfa_lockout_and_verification(app: Flask, cli: Cli) -> None:
    user = make_user()
    add_role(user, "support", now=utcnow(), via="test")
    add_role(user, "admin", now=utcnow(), via="test")
    for _ in range(5):  # the default threshold: the account locks for unknown browsers
        with pytest.raises(InvalidCredentials):
            authenticate(DEFAULT_EMAIL, "not the password at all", now=utcnow())

    shown = cli.json("user", "show", DEFAULT_EMAIL)
    text = cli.ok("user", "show", DEFAULT_EMAIL).splitlines()

    assert shown["roles"] == ["admin", "support"]
    assert shown["mfa_enabled"] is False
    assert shown["email_verified"] is False
    assert shown["is_locked"] is True
    assert shown["failed_logins"] == 0  # a lock starts the count again
    assert shown["locked_until"] > shown["created_at"]
    assert "roles           admin support" in text
    assert "is_locked       True" in text


# --- disable and enable ------------------------------------------------------------------------


def test_disable_ends_sessions_and_tokens_at_once_and_enable_lets_them_back(
    app: Flask, cli: Cli
) -> None:
    user = make_user()
    web = signed_in_browser(app)
    grant = signed_in_grant(web)
    assert userinfo(web, grant.access_token).status_code == 200

    disabled = cli.json("user", "disable", DEFAULT_EMAIL)

    assert disabled == {"email": DEFAULT_EMAIL, "is_disabled": True, "sessions_ended": 1}
    assert not is_signed_in(web)
    assert userinfo(web, grant.access_token).status_code == 401
    assert refresh(web, grant).json["error"] == "invalid_grant"
    assert signed_in_browser_fails(app)
    assert audit_rows("admin:") == [
        (
            "admin:user:disable",
            user.subject,
            None,
            {"via": "cli", "sessions_ended": 1, "tokens_ended": True},
        )
    ]

    assert cli.ok("user", "enable", DEFAULT_EMAIL) == f"enabled {DEFAULT_EMAIL}\n"

    assert is_signed_in(signed_in_browser(app))
    assert userinfo(web, grant.access_token).status_code == 401  # what ended stays ended
    assert audit_rows("admin:")[-1] == ("admin:user:enable", user.subject, None, {"via": "cli"})


def signed_in_browser_fails(app: Flask) -> bool:
    return sign_in(browser(app), DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code != 303


@pytest.mark.parametrize(
    ("command", "disabled", "problem"),
    [
        ("disable", True, f"error: {DEFAULT_EMAIL} is disabled already\n"),
        ("enable", False, f"error: {DEFAULT_EMAIL} is not disabled\n"),
    ],
)
def test_disable_and_enable_refuse_what_is_already_so(
    app: Flask, cli: Cli, command: str, disabled: bool, problem: str
) -> None:
    make_user(disabled=disabled)
    before = snapshot()

    assert cli.fails("user", command, DEFAULT_EMAIL) == problem

    assert snapshot() == before


# --- set-password ------------------------------------------------------------------------------


def test_set_password_applies_the_policy_ends_everything_and_tells_the_owner(
    app: Flask, cli: Cli
) -> None:
    user = make_user()
    web = signed_in_browser(app)
    grant = signed_in_grant(web)

    result = cli("user", "set-password", DEFAULT_EMAIL, "--password-stdin", stdin=NEW_PASSWORD)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"password set for {DEFAULT_EMAIL}; ended 1 session(s) and all tokens\n"
    )
    assert "Subject: localhost: Your password was changed by an administrator" in result.stderr
    assert NEW_PASSWORD not in result.stderr + result.stdout
    assert authenticate(DEFAULT_EMAIL, NEW_PASSWORD, now=utcnow()) == the_user()
    with pytest.raises(InvalidCredentials):
        authenticate(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=utcnow())
    assert not is_signed_in(web)
    assert userinfo(web, grant.access_token).status_code == 401
    assert refresh(web, grant).json["error"] == "invalid_grant"
    assert audit_rows("admin:") == [
        (
            "admin:user:set-password",
            user.subject,
            None,
            {"via": "cli", "sessions_ended": 1, "tokens_ended": True},
        )
    ]


def test_set_password_succeeds_and_warns_when_the_owner_cannot_be_told(
    app: Flask, cli: Cli
) -> None:
    """The password is set, so the command exits 0 and says on stderr what did not happen."""
    make_user()
    unreachable = {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": str(free_port())}

    result = cli(
        "user", "set-password", DEFAULT_EMAIL, "--password-stdin", stdin=NEW_PASSWORD, **unreachable
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"password set for {DEFAULT_EMAIL}; ended 0 session(s) and all tokens\n"
    )
    assert result.stderr.splitlines()[-1] == (
        f"warning: the password is set, but the notice to {DEFAULT_EMAIL} could not be mailed "
        "(the reason is in the log); tell the owner another way"
    )
    assert authenticate(DEFAULT_EMAIL, NEW_PASSWORD, now=utcnow()) == the_user()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("q1w2e3r4t5y6", "too common"),
    ],
)
def test_set_password_refused_by_the_policy_changes_nothing(
    app: Flask, cli: Cli, password: str, reason: str
) -> None:
    make_user()
    web = signed_in_browser(app)
    before = snapshot()

    problem = cli.fails("user", "set-password", DEFAULT_EMAIL, "--password-stdin", stdin=password)

    assert reason in problem
    assert snapshot() == before
    assert is_signed_in(web)


# --- sessions and revoke-sessions --------------------------------------------------------------


def test_sessions_lists_browsers_and_revoke_sessions_ends_them_with_tokens(
    app: Flask, cli: Cli
) -> None:
    user = make_user()
    laptop = signed_in_browser(app)
    phone = signed_in_browser(app, user_agent=SAFARI_IPHONE, ip="203.0.113.9")
    grant = signed_in_grant(laptop)

    listed = cli.json("user", "sessions", DEFAULT_EMAIL)

    assert sorted((each["device"], each["ip"]) for each in listed) == [
        ("Firefox on Linux", "127.0.0.1"),
        ("Safari on iOS", "203.0.113.9"),
    ]
    assert all(
        set(each) == {"sid", "device", "ip", "signed_in_at", "last_seen_at"} for each in listed
    )

    revoked = cli.json("user", "revoke-sessions", DEFAULT_EMAIL)

    assert revoked == {"email": DEFAULT_EMAIL, "sessions_ended": 2, "tokens_ended": True}
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert refresh(laptop, grant).json["error"] == "invalid_grant"
    assert userinfo(laptop, grant.access_token).status_code == 401
    assert (
        cli.ok("user", "sessions", DEFAULT_EMAIL) == f"{DEFAULT_EMAIL} is not signed in anywhere\n"
    )
    assert audit_rows("admin:") == [
        (
            "admin:user:revoke-sessions",
            user.subject,
            None,
            {"via": "cli", "sessions_ended": 2, "tokens_ended": True},
        )
    ]
    # Signing in again works: the account is not disabled.
    assert is_signed_in(signed_in_browser(app))


# --- errors common to every command --------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("user", "show"),
        ("user", "disable"),
        ("user", "role", "add", "nobody@example.org", "admin"),
    ],
    ids=" ".join,
)
def test_an_unknown_account_is_a_clean_error(
    app: Flask, cli: Cli, command: tuple[str, ...]
) -> None:
    args = command if "nobody@example.org" in command else (*command, "nobody@example.org")

    assert cli.fails(*args) == "error: no account with email nobody@example.org\n"
    assert audit_rows() == []

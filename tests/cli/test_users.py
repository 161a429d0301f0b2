"""``authserver user``: create, list and show accounts; hashes never leave the database.

Mail goes to the console backend (stderr) here; tests/web/test_verify_email.py follows the
verification links over a real SMTP server.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from authserver.accounts.lifecycle import (
    authenticate,
    create_user,
    find_user_by_email,
    list_users,
)
from authserver.audit.events import EventTag
from authserver.cli import main
from authserver.extensions import db
from authserver.models import AuditEvent, User
from authserver.models.types import utcnow
from authserver.security.errors import InvalidCredentials
from authserver.security.mfa.second_factor import begin_enrolment, confirm_enrolment, is_enrolled
from tests.conftest import AppFactory
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.support.smtp import free_port


def test_create_reads_one_line_of_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        ["user", "create", "Alice@Example.org", "--password-stdin"],
        input=f"{DEFAULT_PASSWORD}\nthis second line is ignored\n",
    )

    assert result.exit_code == 0, result.output
    user = find_user_by_email("alice@example.org")
    assert user is not None
    assert result.stdout == (
        f"created alice@example.org (subject {user.subject})\n"
        "verification link sent to alice@example.org\n"
    )
    assert "Subject: localhost: Confirm your email address" in result.stderr
    assert authenticate("alice@example.org", DEFAULT_PASSWORD, now=utcnow()) == user


def test_only_the_line_ending_is_stripped_from_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    password = "  spaces count too  "

    result = runner.invoke(
        main, ["user", "create", "alice@example.org", "--password-stdin"], input=password + "\r\n"
    )

    assert result.exit_code == 0, result.output
    assert authenticate("alice@example.org", password, now=utcnow())


def test_create_json_describes_the_account(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        ["user", "create", "alice@example.org", "--password-stdin", "--name", "Alice", "--json"],
        input=DEFAULT_PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert set(described) == {
        "subject",
        "email",
        "name",
        "email_verified",
        "is_disabled",
        "mfa_enabled",
        "created_at",
        "created_via",
        "locked_until",
        "roles",
        "is_locked",
        "failed_logins",
    }
    assert uuid.UUID(described["subject"])
    assert described["email"] == "alice@example.org"
    assert described["name"] == "Alice"
    assert described["email_verified"] is False
    assert described["is_disabled"] is False
    assert described["locked_until"] is None


def test_create_verified_marks_the_address_and_sends_nothing(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(
        main,
        ["user", "create", "alice@example.org", "--password-stdin", "--verified", "--json"],
        input=DEFAULT_PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["email_verified"] is True
    assert result.stderr == ""  # no mail printed


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_create_succeeds_and_warns_when_the_verification_mail_fails(
    app: Flask, make_app: AppFactory, as_json: bool
) -> None:
    """The account was created, so the command exits 0: a script must not retry the create."""
    unreachable = make_app(mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port())

    with unreachable.app_context():  # commands use the app context they find
        result = unreachable.test_cli_runner().invoke(
            main,
            ["user", "create", "alice@example.org", "--password-stdin", *(["--json"] * as_json)],
            input=DEFAULT_PASSWORD + "\n",
        )

    assert result.exit_code == 0
    if as_json:
        assert json.loads(result.stdout)["email"] == "alice@example.org"
    else:
        [said_out] = result.stdout.splitlines()
        assert said_out.startswith("created alice@example.org (subject ")
    *logged, said = result.stderr.splitlines()
    assert said == (
        "warning: created alice@example.org, but the verification mail could not be sent (the "
        "reason is in the log); once mail works, run "
        "`authserver user send-verification alice@example.org`"
    )
    # The log (a command's goes to stderr) names the reason.
    [reason] = [json.loads(line) for line in logged]
    assert (reason["level"], reason["message"]) == (
        "ERROR",
        "mail to alice@example.org not delivered: ConnectionRefusedError",
    )
    assert find_user_by_email("alice@example.org") is not None


def test_send_verification_mails_a_new_link(app: Flask, runner: FlaskCliRunner) -> None:
    make_user("alice@example.org")

    result = runner.invoke(main, ["user", "send-verification", "ALICE@example.org"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "verification link sent to alice@example.org\n"
    assert "http://localhost/verify-email/" in result.stderr


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("nobody@example.org", "error: no account with email nobody@example.org\n"),
        ("verified@example.org", "error: verified@example.org is already verified\n"),
    ],
)
def test_send_verification_refuses_with_a_reason(
    app: Flask, runner: FlaskCliRunner, email: str, problem: str
) -> None:
    create_user("verified@example.org", DEFAULT_PASSWORD, email_verified_at=utcnow())

    result = runner.invoke(main, ["user", "send-verification", email])

    assert result.exit_code == 1
    assert result.stderr == problem


def test_create_prompts_twice_without_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main, ["user", "create", "alice@example.org"], input=f"{DEFAULT_PASSWORD}\n" * 2
    )

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert DEFAULT_PASSWORD not in result.output  # typed without echo
    assert authenticate("alice@example.org", DEFAULT_PASSWORD, now=utcnow())


def test_a_duplicate_email_is_an_error(app: Flask, runner: FlaskCliRunner) -> None:
    make_user("alice@example.org")

    result = runner.invoke(
        main,
        ["user", "create", "ALICE@example.org", "--password-stdin"],
        input="another good password\n",
    )

    assert result.exit_code == 1
    assert result.stderr == "error: an account with email alice@example.org already exists\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("alice@example.org", "too short", "password must be at least 12 characters"),
        ("alice.smith@example.org", "hello alice.smith", "before the @"),
        ("not-an-email", DEFAULT_PASSWORD, "email address must look like name@example.org"),
    ],
)
def test_a_refused_account_says_why(
    app: Flask, runner: FlaskCliRunner, email: str, password: str, reason: str
) -> None:
    result = runner.invoke(
        main, ["user", "create", email, "--password-stdin"], input=password + "\n"
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert reason in result.stderr
    assert list_users() == []


def test_list_shows_accounts_but_no_hashes(app: Flask, runner: FlaskCliRunner) -> None:
    alice = make_user("alice@example.org", name="Alice")
    bob = make_user("bob@example.org", disabled=True)

    text = runner.invoke(main, ["user", "list"])
    as_json = runner.invoke(main, ["user", "list", "--json"])

    assert text.exit_code == as_json.exit_code == 0
    assert text.stdout.splitlines() == [
        f"{alice.subject}  alice@example.org  active  cli  Alice",
        f"{bob.subject}  bob@example.org  disabled  cli",
    ]
    assert [user["email"] for user in json.loads(as_json.stdout)] == [alice.email, bob.email]
    for output in (text.output, as_json.output):
        assert "$argon2" not in output
        assert "password" not in output


def test_list_with_no_accounts_prints_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["user", "list", "--json"])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_show_describes_one_account_without_its_hash(app: Flask, runner: FlaskCliRunner) -> None:
    alice = make_user("alice@example.org", name="Alice")

    text = runner.invoke(main, ["user", "show", "ALICE@example.org"])
    as_json = runner.invoke(main, ["user", "show", "alice@example.org", "--json"])

    assert text.exit_code == as_json.exit_code == 0
    assert f"subject         {alice.subject}" in text.stdout.splitlines()
    assert "email_verified  False" in text.stdout.splitlines()
    assert "is_disabled     False" in text.stdout.splitlines()
    assert "locked_until" in text.stdout.splitlines()  # never locked: empty, no trailing space
    assert json.loads(as_json.stdout)["subject"] == alice.subject
    for output in (text.output, as_json.output):
        assert alice.password_hash not in output
        assert "$argon2" not in output


def test_show_an_unknown_email_is_an_error(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["user", "show", "nobody@example.org"])

    assert result.exit_code == 1
    assert result.stderr == "error: no account with email nobody@example.org\n"


def enrol_with_the_service(user: User) -> None:
    key = begin_enrolment(user, now=utcnow())
    confirm_enrolment(user, pyotp.TOTP(key.secret).now(), now=utcnow())


def test_show_says_whether_mfa_is_on(app: Flask, runner: FlaskCliRunner) -> None:
    enrol_with_the_service(make_user("alice@example.org"))

    as_json = runner.invoke(main, ["user", "show", "alice@example.org", "--json"])

    assert json.loads(as_json.stdout)["mfa_enabled"] is True


def test_reset_mfa_removes_the_authenticator_and_is_audited(
    app: Flask, runner: FlaskCliRunner
) -> None:
    alice = make_user("alice@example.org")
    enrol_with_the_service(alice)

    result = runner.invoke(main, ["user", "reset-mfa", "Alice@example.org"])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "removed the authenticator app and recovery codes of alice@example.org\n"
    )
    assert not is_enrolled(alice.id)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:mfa:reset"))
    assert (event.user_subject, event.detail) == (alice.subject, {"via": "cli"})


def test_reset_mfa_json(app: Flask, runner: FlaskCliRunner) -> None:
    alice = make_user("alice@example.org")
    enrol_with_the_service(alice)

    result = runner.invoke(main, ["user", "reset-mfa", "alice@example.org", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "email": "alice@example.org",
        "subject": alice.subject,
        "mfa_enabled": False,
    }


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.org", "error: no account with email nobody@example.org\n"),
        (
            "alice@example.org",
            "error: alice@example.org has no authenticator app; nothing was changed\n",
        ),
    ],
)
def test_reset_mfa_refuses_what_it_cannot_do(
    app: Flask, runner: FlaskCliRunner, email: str, message: str
) -> None:
    make_user("alice@example.org")

    result = runner.invoke(main, ["user", "reset-mfa", email])

    assert result.exit_code == 1
    assert result.stderr == message
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user:mfa:reset")).all()
        == []
    )


def lock(email: str = "alice@example.org") -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            authenticate(email, "not the password", now=utcnow())


def test_unlock_lifts_the_lock_and_says_so(app: Flask, runner: FlaskCliRunner) -> None:
    user = make_user("alice@example.org")
    lock()
    with pytest.raises(InvalidCredentials):
        authenticate("alice@example.org", DEFAULT_PASSWORD, now=utcnow())

    result = runner.invoke(main, ["user", "unlock", "ALICE@example.org"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "unlocked alice@example.org\n"
    assert authenticate("alice@example.org", DEFAULT_PASSWORD, now=utcnow()) == user
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == str(EventTag.UNLOCK))
    ).all()
    assert event.user_subject == user.subject
    assert event.detail == {"by": "admin", "was_locked": True}


def test_unlock_json_and_an_account_that_was_not_locked(app: Flask, runner: FlaskCliRunner) -> None:
    make_user("alice@example.org")

    text = runner.invoke(main, ["user", "unlock", "alice@example.org"])
    as_json = runner.invoke(main, ["user", "unlock", "alice@example.org", "--json"])

    assert text.stdout == "alice@example.org was not locked; its failure counts are zero now\n"
    assert json.loads(as_json.stdout) == {"email": "alice@example.org", "was_locked": False}


def test_show_tells_until_when_an_account_is_locked(app: Flask, runner: FlaskCliRunner) -> None:
    make_user("alice@example.org")
    lock()

    shown = json.loads(runner.invoke(main, ["user", "show", "alice@example.org", "--json"]).stdout)

    assert datetime.fromisoformat(shown["locked_until"]) > utcnow()


def test_unlock_an_unknown_email_is_an_error(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["user", "unlock", "nobody@example.org"])

    assert result.exit_code == 1
    assert result.stderr == "error: no account with email nobody@example.org\n"

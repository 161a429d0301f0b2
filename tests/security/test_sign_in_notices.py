"""The owner hears of suspicious sign-ins, and is told what actually happened (ASVS 5.0 V6.3.5).

Finding 3 of the review (issue 10, section 2): the lock notice always said that wrong passwords
were entered, even when the password was right and only the second factor failed; and the
right password followed by a wrong code below the lock threshold told the owner nothing.

A stranger's browser (never signed in: the account's shared counter) signs in with the right
password and answers the challenge wrongly. Mail goes to files (the file backend), read back
by subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import audit_tags, read_outbox, signed_in_browser, the_user
from tests.support.mailbox import has_subject, text_of
from tests.support.mfa import Clock, Enrolment, answer_challenge, enrol, frozen_clock
from tests.support.passkeys import (
    SoftPasskey,
    a_passkey,
    options,
    passkey_sign_in,
    post_form,
    register,
    registered,
    signed_in,
)
from tests.support.web import sign_in

THRESHOLD = 5  # the default AUTHSERVER_LOCKOUT_THRESHOLD
LOCK_SUBJECT = "Sign-in to your account was paused"
PARTIAL_SIGN_IN_SUBJECT = "Someone signed in with your password but failed the second step"


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def site(make_app: AppFactory, outbox: Path, clock: Clock) -> Flask:
    return make_app(mail_backend="file", mail_file_dir=str(outbox))


@pytest.fixture
def enrolment(site: Flask, clock: Clock) -> Enrolment:
    enrolled = enrol(signed_in_browser(site))
    clock.next_step()
    return enrolled


def wrong_code(enrolment: Enrolment) -> str:
    right = {enrolment.authenticator.code(offset_steps=step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in right)


def right_password_wrong_code(site: Flask, enrolment: Enrolment) -> int:
    """One round from a stranger's browser; the status of the challenge's answer."""
    stranger = site.test_client()
    signed_in = sign_in(stranger, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    if signed_in.status_code != 303:
        return signed_in.status_code  # locked: the password step refuses
    answer = answer_challenge(stranger, wrong_code(enrolment), signed_in.headers["Location"])
    answer.close()  # mail goes out once the response is closed
    return answer.status_code


def mails_with(outbox: Path, subject: str) -> list[Message]:
    return [message for message in read_outbox(outbox) if has_subject(message, subject)]


def test_the_right_password_and_a_wrong_code_are_told_to_the_owner(
    site: Flask, enrolment: Enrolment, outbox: Path
) -> None:
    assert right_password_wrong_code(site, enrolment) == 401

    [notice] = mails_with(outbox, PARTIAL_SIGN_IN_SUBJECT)
    assert notice["To"] == DEFAULT_EMAIL
    body = text_of(notice)
    assert "right password" in body
    assert "change your password" in body
    assert "http://localhost/reset" in body
    assert mails_with(outbox, LOCK_SUBJECT) == []
    assert audit_tags().count("user:login:partial-notice") == 1


def test_at_most_one_notice_an_hour_on_every_instance_together(
    site: Flask, make_app: AppFactory, outbox: Path, enrolment: Enrolment, clock: Clock
) -> None:
    # A second instance on the same database: the hour is kept there, not in a process.
    other_instance = make_app(
        mail_backend="file",
        mail_file_dir=str(outbox),
        encryption_keys=site.extensions["authserver.settings"].encryption_keys,
    )

    assert right_password_wrong_code(site, enrolment) == 401
    assert right_password_wrong_code(other_instance, enrolment) == 401
    clock.advance(59 * 60)
    assert right_password_wrong_code(other_instance, enrolment) == 401
    assert len(mails_with(outbox, PARTIAL_SIGN_IN_SUBJECT)) == 1

    clock.advance(61 * 60)
    assert right_password_wrong_code(site, enrolment) == 401

    assert len(mails_with(outbox, PARTIAL_SIGN_IN_SUBJECT)) == 2


def test_a_lock_by_wrong_codes_says_the_password_was_right(
    site: Flask, enrolment: Enrolment, outbox: Path
) -> None:
    statuses = [right_password_wrong_code(site, enrolment) for _ in range(THRESHOLD + 1)]

    assert statuses == [401] * (THRESHOLD + 1)  # the last refused at the password step
    [notice] = mails_with(outbox, LOCK_SUBJECT)
    body = " ".join(text_of(notice).split())
    assert "entered the right password" in body
    assert "wrong codes from your authenticator app" in body
    assert "wrong passwords" not in body
    assert "someone knows your password: change it now" in body
    assert "http://localhost/unlock/" in body
    # The partial notice went out once, for the first round; the lock notice says the rest.
    assert len(mails_with(outbox, PARTIAL_SIGN_IN_SUBJECT)) == 1


def test_a_lock_by_wrong_passwords_still_says_so(site: Flask, outbox: Path) -> None:
    stranger: FlaskClient = site.test_client()
    for _ in range(THRESHOLD):
        sign_in(stranger, DEFAULT_EMAIL, "not the password").close()

    [notice] = mails_with(outbox, LOCK_SUBJECT)
    body = " ".join(text_of(notice).split())
    assert "wrong passwords" in body
    assert "right password" not in body
    assert mails_with(outbox, PARTIAL_SIGN_IN_SUBJECT) == []


# --- locks by passkeys ------------------------------------------------------------------------


def fail_passkey_sign_ins(site: Flask, passkey: SoftPasskey) -> None:
    """As many refused passkey sign-ins (no user verification) as lock the account."""
    for _ in range(THRESHOLD):
        assert passkey_sign_in(site.test_client(), passkey, uv=False).status_code == 401


def lock_notice_text(outbox: Path) -> str:
    [notice] = mails_with(outbox, LOCK_SUBJECT)
    return " ".join(text_of(notice).split())


def test_a_lock_by_failed_passkeys_blames_no_password(site: Flask, outbox: Path) -> None:
    passkey = registered(site)
    fail_passkey_sign_ins(site, passkey)

    body = lock_notice_text(outbox)
    assert "Someone failed to sign in to your" in body
    assert "your account is safe: nobody can guess a passkey" in body
    assert "wrong passwords" not in body and "right password" not in body


def test_a_lock_of_an_account_without_a_password_speaks_of_passkeys_only(
    site: Flask, outbox: Path
) -> None:
    passkey = registered(site)
    the_user().password_hash = None  # as an invitation accepted with a passkey leaves it
    db.session.commit()
    fail_passkey_sign_ins(site, passkey)

    body = lock_notice_text(outbox)
    assert "Someone failed to sign in to your" in body
    assert "your account is safe: it has no password anyone could guess" in body
    assert "password" not in body.replace("it has no password anyone could guess", "")


def test_a_lock_by_failed_passkeys_after_the_right_password_says_the_password_was_right(
    site: Flask, outbox: Path
) -> None:
    owner = signed_in(site)
    enrol(owner)
    passkey = a_passkey()
    assert register(owner, passkey).status_code == 200
    for _ in range(THRESHOLD):
        client = site.test_client()
        assert (
            sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).headers["Location"].startswith("/mfa")
        )
        asked = options(client, "/mfa/passkey/options", page="/mfa")
        body = {"credential": passkey.get(asked, uv=False), "next": "/account"}
        assert post_form(client, "/mfa/passkey", body, page="/mfa").status_code == 401

    body = lock_notice_text(outbox)
    assert "entered the right password" in body
    assert "but then failed to confirm it with a passkey" in body
    assert "someone knows your password: change it now" in body

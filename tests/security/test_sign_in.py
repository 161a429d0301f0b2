"""security/sign_in.py, called as the sign-in and MFA pages call it: the order of the steps
(password, second factor, lockout reset, session) and what each outcome leaves behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import BrowserSessionRecord, User
from authserver.security.errors import InvalidCredentials, InvalidMfaCode
from authserver.security.mfa.second_factor import begin_enrolment, confirm_enrolment
from authserver.security.mfa.sign_in import find_pending_sign_in
from authserver.security.sign_in import (
    SecondFactorNeeded,
    SignedIn,
    complete_sign_in,
    sign_in_with_password,
    step_up_session,
)
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.mfa import Authenticator, Clock, frozen_clock


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen, app.test_request_context("/login", method="POST"):
        yield frozen


def enrol(user: User, clock: Clock) -> Authenticator:
    phone = Authenticator(begin_enrolment(user, now=clock.now()).secret)
    confirm_enrolment(user, phone.code(), now=clock.now())
    clock.next_step()  # the confirming code is used up
    return phone


def live_sessions(user: User) -> list[BrowserSessionRecord]:
    return list(
        db.session.scalars(
            select(BrowserSessionRecord).where(
                BrowserSessionRecord.user_id == user.id, BrowserSessionRecord.revoked_at.is_(None)
            )
        )
    )


def test_a_password_alone_signs_in_an_account_without_a_second_factor(clock: Clock) -> None:
    user = make_user()

    outcome = sign_in_with_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=clock.now())

    assert isinstance(outcome, SignedIn)
    assert outcome.user.id == user.id and outcome.session.amr == ("pwd",)
    assert len(live_sessions(user)) == 1


def test_a_wrong_password_signs_nobody_in(clock: Clock) -> None:
    user = make_user()

    with pytest.raises(InvalidCredentials):
        sign_in_with_password(DEFAULT_EMAIL, "not the password at all", now=clock.now())

    assert live_sessions(user) == []


def test_an_authenticator_makes_the_password_a_pending_sign_in_and_no_session(
    clock: Clock,
) -> None:
    user = make_user()
    phone = enrol(user, clock)

    outcome = sign_in_with_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=clock.now())

    assert isinstance(outcome, SecondFactorNeeded)
    assert live_sessions(user) == []
    pending = find_pending_sign_in(outcome.pending, now=clock.now())
    assert pending is not None and pending.user_id == user.id

    signed_in = complete_sign_in(pending, phone.code(), now=clock.now())

    assert signed_in.session.amr == ("pwd", "otp")
    assert len(live_sessions(user)) == 1
    # Used up: the same pending sign-in cannot complete twice.
    assert find_pending_sign_in(outcome.pending, now=clock.now()) is None


def test_a_wrong_code_leaves_the_sign_in_pending_and_starts_nothing(clock: Clock) -> None:
    user = make_user()
    phone = enrol(user, clock)
    outcome = sign_in_with_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=clock.now())
    assert isinstance(outcome, SecondFactorNeeded)
    pending = find_pending_sign_in(outcome.pending, now=clock.now())
    assert pending is not None
    wrong = "000000" if phone.code() != "000000" else "111111"

    with pytest.raises(InvalidMfaCode):
        complete_sign_in(pending, wrong, now=clock.now())

    assert live_sessions(user) == []
    assert find_pending_sign_in(outcome.pending, now=clock.now()) is not None


def test_stepping_up_restarts_the_session_with_the_code_added(clock: Clock) -> None:
    user = make_user()
    # Signed in with the password alone, then an authenticator is added (on another browser).
    before = sign_in_with_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=clock.now())
    assert isinstance(before, SignedIn)
    phone = enrol(user, clock)

    stepped = step_up_session(user, before.session, phone.code(), now=clock.now())

    assert stepped.session.amr == ("pwd", "otp")
    assert stepped.session.sid != before.session.sid  # a new id, never the old one reused

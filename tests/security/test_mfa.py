"""security/mfa with real storage: enrolment, single use of every code, pending sign-ins."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from authserver.accounts.credentials import end_all_credentials
from authserver.extensions import db
from authserver.models import AuditEvent, RecoveryCode, TotpCredential, User
from authserver.security import crypto
from authserver.security.errors import (
    DecryptionError,
    InvalidMfaCode,
    MalformedMfaCode,
    MfaAlreadyEnrolled,
    MfaNotEnrolled,
    PendingSignInInvalid,
    TooManyAttempts,
)
from authserver.security.mfa.second_factor import (
    begin_enrolment,
    confirm_enrolment,
    count_unused_recovery_codes,
    is_enrolled,
    regenerate_recovery_codes,
    remove_mfa,
    reset_mfa,
)
from authserver.security.mfa.sign_in import (
    begin_mfa_sign_in,
    complete_mfa_sign_in,
    find_pending_sign_in,
    step_up,
)
from tests.factories import make_user
from tests.support.mfa import Authenticator, Clock, frozen_clock


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        yield frozen


@pytest.fixture
def user(app: Flask) -> User:
    return make_user()


def enrolled(user: User, clock: Clock) -> tuple[Authenticator, list[str]]:
    key = begin_enrolment(user, now=clock.now())
    app = Authenticator(key.secret)
    codes = confirm_enrolment(user, app.code(), now=clock.now())
    clock.next_step()  # the confirming code is used up
    return app, codes


def events(tag: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == tag)))


# --- enrolment -------------------------------------------------------------------------------


def test_a_pending_secret_is_not_a_second_factor(user: User, clock: Clock) -> None:
    key = begin_enrolment(user, now=clock.now())

    assert not is_enrolled(user.id)
    with pytest.raises(MfaNotEnrolled):
        begin_mfa_sign_in(user, now=clock.now())
    with pytest.raises(MfaNotEnrolled):
        step_up(user, Authenticator(key.secret).code(), now=clock.now())


def test_reopening_set_up_shows_the_same_secret_until_it_is_an_hour_old(
    user: User, clock: Clock
) -> None:
    first = begin_enrolment(user, now=clock.now())
    clock.advance(59 * 60)
    assert begin_enrolment(user, now=clock.now()).secret == first.secret

    clock.advance(60)
    assert begin_enrolment(user, now=clock.now()).secret != first.secret


def test_the_secret_is_encrypted_at_rest_for_this_user_only(user: User, clock: Clock) -> None:
    key = begin_enrolment(user, now=clock.now())
    stored = db.session.scalars(select(TotpCredential)).one()

    assert key.secret.encode() not in stored.secret_encrypted
    assert crypto.decrypt(stored.secret_encrypted, purpose=f"totp-secret:{user.subject}") == (
        key.secret.encode()
    )
    with pytest.raises(DecryptionError):
        crypto.decrypt(stored.secret_encrypted, purpose="totp-secret:someone-else")


def test_a_correct_code_completes_enrolment_with_ten_recovery_codes(
    user: User, clock: Clock
) -> None:
    key = begin_enrolment(user, now=clock.now())

    codes = confirm_enrolment(user, Authenticator(key.secret).code(), now=clock.now())

    assert is_enrolled(user.id)
    assert len(codes) == 10
    stored = list(db.session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert [e.user_subject for e in events("user:mfa:enrol")] == [user.subject]
    with pytest.raises(MfaAlreadyEnrolled):
        begin_enrolment(user, now=clock.now())


@pytest.mark.parametrize("typed", ["000000", "ABCDE-FGHJK"])
def test_enrolment_refuses_a_wrong_code_or_a_recovery_code(
    user: User, clock: Clock, typed: str
) -> None:
    key = begin_enrolment(user, now=clock.now())
    if typed == "000000" and Authenticator(key.secret).code() == typed:
        typed = "000001"

    with pytest.raises((InvalidMfaCode, MalformedMfaCode)):
        confirm_enrolment(user, typed, now=clock.now())

    assert not is_enrolled(user.id)
    assert events("user:mfa:failure") == []  # a typo while setting up is not an attack


def test_the_code_that_confirmed_enrolment_cannot_be_used_again(user: User, clock: Clock) -> None:
    key = begin_enrolment(user, now=clock.now())
    code = Authenticator(key.secret).code()
    confirm_enrolment(user, code, now=clock.now())

    with pytest.raises(InvalidMfaCode):
        step_up(user, code, now=clock.now())


# --- TOTP codes ------------------------------------------------------------------------------


def test_a_code_is_accepted_once(user: User, clock: Clock) -> None:
    app, _ = enrolled(user, clock)
    code = app.code()

    step_up(user, code, now=clock.now())
    with pytest.raises(InvalidMfaCode):
        step_up(user, code, now=clock.now())

    assert [e.detail for e in events("user:mfa:failure")] == [{"during": "step-up"}]


def test_after_a_code_is_used_the_previous_steps_code_is_refused_too(
    user: User, clock: Clock
) -> None:
    app, _ = enrolled(user, clock)
    step_up(user, app.code(), now=clock.now())

    with pytest.raises(InvalidMfaCode):
        step_up(user, app.code(offset_steps=-1), now=clock.now())


@pytest.mark.parametrize("offset", [-1, 1])
def test_codes_one_step_early_or_late_are_accepted(user: User, clock: Clock, offset: int) -> None:
    app, _ = enrolled(user, clock)
    clock.next_step()  # so that the step before this one is later than the enrolment's

    step_up(user, app.code(offset_steps=offset), now=clock.now())


def test_codes_two_steps_away_are_refused(user: User, clock: Clock) -> None:
    app, _ = enrolled(user, clock)
    near = {app.code(offset_steps=offset) for offset in (-1, 0, 1)}
    far = [app.code(offset_steps=offset) for offset in (-2, 2)]
    far = [code for code in far if code not in near]

    for code in far:
        with pytest.raises(InvalidMfaCode):
            step_up(user, code, now=clock.now())


def test_of_concurrent_submissions_of_one_code_exactly_one_passes(
    app: Flask, user: User, clock: Clock
) -> None:
    authenticator, _ = enrolled(user, clock)
    code, user_id, now = authenticator.code(), user.id, clock.now()
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def submit() -> None:
        with app.app_context():
            start.wait()
            try:
                step_up(db.session.get(User, user_id), code, now=now)
                outcomes.append("passed")
            # Every submission is counted before the code is looked at: past the lockout
            # threshold the rest are refused unseen.
            except (InvalidMfaCode, TooManyAttempts):
                outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["passed"] + ["refused"] * 7


# --- recovery codes --------------------------------------------------------------------------


def test_a_recovery_code_works_once(user: User, clock: Clock) -> None:
    _, codes = enrolled(user, clock)

    step_up(user, codes[3].lower().replace("-", " "), now=clock.now())
    with pytest.raises(InvalidMfaCode):
        step_up(user, codes[3], now=clock.now())

    assert count_unused_recovery_codes(user.id) == 9
    assert [e.detail for e in events("user:mfa:recovery-code-used")] == [{"remaining": 9}]


def test_regenerating_needs_a_fresh_code_and_voids_the_old_set(user: User, clock: Clock) -> None:
    app, old = enrolled(user, clock)

    with pytest.raises(InvalidMfaCode):
        regenerate_recovery_codes(user, "ABCDE-FGHJK", now=clock.now())
    new = regenerate_recovery_codes(user, app.code(), now=clock.now())

    assert len(new) == 10 and not set(new) & set(old)
    assert count_unused_recovery_codes(user.id) == 10
    with pytest.raises(InvalidMfaCode):
        step_up(user, old[0], now=clock.now())
    step_up(user, new[0], now=clock.now())
    assert len(events("user:mfa:recovery-codes-regenerate")) == 1


def test_of_concurrent_uses_of_one_recovery_code_exactly_one_passes(
    app: Flask, user: User, clock: Clock
) -> None:
    _, codes = enrolled(user, clock)
    user_id, now = user.id, clock.now()
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def submit() -> None:
        with app.app_context():
            start.wait()
            try:
                step_up(db.session.get(User, user_id), codes[0], now=now)
                outcomes.append("passed")
            except (InvalidMfaCode, TooManyAttempts):  # past the threshold: refused unseen
                outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["passed"] + ["refused"] * 5


# --- removal and reset -----------------------------------------------------------------------


def test_removal_needs_a_fresh_code(user: User, clock: Clock) -> None:
    app, _ = enrolled(user, clock)

    with pytest.raises(InvalidMfaCode):
        remove_mfa(user, "ABCDE-FGHJK", now=clock.now())
    assert is_enrolled(user.id)

    remove_mfa(user, app.code(), now=clock.now())
    assert not is_enrolled(user.id)
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert len(events("user:mfa:remove")) == 1
    assert [e.detail for e in events("user:mfa:failure")] == [{"during": "remove"}]


def test_reset_removes_everything_and_is_audited(user: User, clock: Clock) -> None:
    enrolled(user, clock)

    reset_mfa(user, via="cli")

    assert not is_enrolled(user.id)
    assert db.session.scalars(select(TotpCredential)).all() == []
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert [e.detail for e in events("user:mfa:reset")] == [{"via": "cli"}]
    with pytest.raises(MfaNotEnrolled):
        reset_mfa(user, via="cli")


# --- pending sign-ins ------------------------------------------------------------------------


def test_a_pending_sign_in_completes_once(user: User, clock: Clock) -> None:
    app, _ = enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())
    pending = find_pending_sign_in(value, now=clock.now())
    assert pending is not None

    assert complete_mfa_sign_in(pending, app.code(), now=clock.now()) == user

    clock.next_step()
    assert find_pending_sign_in(value, now=clock.now()) is None
    with pytest.raises(PendingSignInInvalid):
        complete_mfa_sign_in(pending, app.code(), now=clock.now())


def test_a_wrong_code_leaves_the_pending_sign_in_usable(user: User, clock: Clock) -> None:
    app, _ = enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())
    pending = find_pending_sign_in(value, now=clock.now())
    assert pending is not None
    wrong = "000000" if app.code() != "000000" else "000001"

    with pytest.raises(InvalidMfaCode):
        complete_mfa_sign_in(pending, wrong, now=clock.now())

    assert find_pending_sign_in(value, now=clock.now()) == pending
    complete_mfa_sign_in(pending, app.code(), now=clock.now())
    assert [e.detail for e in events("user:mfa:failure")] == [{"during": "sign-in"}]


def test_a_pending_sign_in_expires(app: Flask, user: User, clock: Clock) -> None:
    enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())
    ttl = app.extensions["authserver.settings"].mfa_pending_ttl

    assert find_pending_sign_in(value, now=clock.now() + timedelta(seconds=ttl)) is not None
    assert find_pending_sign_in(value, now=clock.now() + timedelta(seconds=ttl + 1)) is None


def test_a_pending_sign_in_dies_with_the_users_credentials(user: User, clock: Clock) -> None:
    enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())

    clock.advance(1)
    end_all_credentials(user, now=clock.now())
    db.session.commit()

    assert find_pending_sign_in(value, now=clock.now()) is None


def test_a_pending_sign_in_dies_when_the_account_is_disabled(user: User, clock: Clock) -> None:
    enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())

    user.is_disabled = True
    db.session.commit()

    assert find_pending_sign_in(value, now=clock.now()) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda value: value[:-2] + ("AA" if not value.endswith("AA") else "BB"),
        lambda value: "x" + value,
        lambda value: value.split(".")[0],
        lambda value: "",
    ],
    ids=["signature", "payload", "unsigned", "empty"],
)
def test_a_tampered_pending_sign_in_is_refused(
    user: User, clock: Clock, tamper: Callable[[str], str]
) -> None:
    enrolled(user, clock)
    value = begin_mfa_sign_in(user, now=clock.now())

    assert find_pending_sign_in(tamper(value), now=clock.now()) is None


def test_a_value_signed_for_another_purpose_is_not_a_pending_sign_in(
    app: Flask, user: User, clock: Clock
) -> None:
    enrolled(user, clock)
    payload = {"sub": user.subject, "n": 0, "iat": clock.now().timestamp()}
    other = URLSafeSerializer(app.config["SECRET_KEY"], salt="authserver.password-reset")

    assert find_pending_sign_in(other.dumps(payload), now=clock.now()) is None


def test_completing_an_expired_pending_sign_in_is_refused(
    app: Flask, user: User, clock: Clock
) -> None:
    authenticator, _ = enrolled(user, clock)
    pending = find_pending_sign_in(begin_mfa_sign_in(user, now=clock.now()), now=clock.now())
    assert pending is not None
    clock.advance(app.extensions["authserver.settings"].mfa_pending_ttl + 1)

    with pytest.raises(PendingSignInInvalid):
        complete_mfa_sign_in(pending, authenticator.code(), now=clock.now())

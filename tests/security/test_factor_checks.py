"""One gate for every password and second-factor check: the lockout holds at each of them.

Findings of the review (issue 10, section 2, items 1 and 2; ASVS 5.0 V6.3.1): after the lock,
step-up, replacing recovery codes, removing the authenticator and deleting the account kept
accepting codes; the signed-in forms that ask for the password again had no rate limit and
hashed the password even while the account was locked.

Each test drives the pages through the test client, as the owner's (or a thief's) browser
would. A browser that has signed in is recognised (device cookie), so its own wrong answers
lock it, after AUTHSERVER_LOCKOUT_DEVICE_THRESHOLD (5) of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.audit.events import EventTag
from authserver.extensions import db
from authserver.models import AuditEvent
from authserver.security.mfa.second_factor import count_unused_recovery_codes, is_enrolled
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import audit_tags, is_signed_in, signed_in_browser, submit, the_user
from tests.support.mfa import Clock, Enrolment, enrol, frozen_clock, post_code, read_setup_page
from tests.support.web import csrf_token, sign_in

THRESHOLD = 5  # the default AUTHSERVER_LOCKOUT_DEVICE_THRESHOLD
WRONG_PASSWORD = "not the password at all"
NEW_PASSWORD = "a brand new passphrase, long enough"


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


@pytest.fixture
def site(app: Flask, make_app: AppFactory, tmp_path: Path, clock: Clock) -> Flask:
    return make_app(mail_backend="file", mail_file_dir=str(tmp_path / "outbox"))


def wrong_code(enrolment: Enrolment) -> str:
    right = {enrolment.authenticator.code(offset_steps=step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in right)


# --- the surfaces that check a second factor in a signed-in browser ----------------------------


def step_up(browser: FlaskClient, code: str) -> TestResponse:
    return post_code(browser, "/mfa", browser.get("/mfa"), code)


def regenerate(browser: FlaskClient, code: str) -> TestResponse:
    return post_code(
        browser, "/account/mfa", browser.get("/account/mfa"), code, action="regenerate"
    )


def remove(browser: FlaskClient, code: str) -> TestResponse:
    return post_code(browser, "/account/mfa", browser.get("/account/mfa"), code, action="remove")


def delete(browser: FlaskClient, code: str) -> TestResponse:
    fields = {"password": DEFAULT_PASSWORD, "code": code, "confirm": "y"}
    return submit(browser, "/account/delete", fields)


def nothing_changed(enrolment: Enrolment) -> None:
    user = the_user()
    assert is_enrolled(user.id)
    assert count_unused_recovery_codes(user.id) == len(enrolment.recovery_codes)


SURFACES: dict[str, Callable[[FlaskClient, str], TestResponse]] = {
    "step-up": step_up,
    "regenerate recovery codes": regenerate,
    "remove the authenticator": remove,
    "delete the account": delete,
}


@pytest.mark.parametrize("surface", SURFACES.values(), ids=SURFACES.keys())
def test_after_the_lock_even_the_right_code_is_refused(
    site: Flask, clock: Clock, surface: Callable[[FlaskClient, str], TestResponse]
) -> None:
    # A browser signed in with the password alone before the app was set up elsewhere: its
    # session can step up. The other browser set it up.
    browser = signed_in_browser(site)
    enrolment = enrol(signed_in_browser(site))
    clock.next_step()

    statuses = [surface(browser, wrong_code(enrolment)).status_code for _ in range(THRESHOLD)]
    clock.next_step()  # a fresh, never used code
    refused = surface(browser, enrolment.authenticator.code())

    assert statuses == [401] * THRESHOLD if surface is not delete else [400] * THRESHOLD
    assert refused.status_code == 429
    assert "Too many wrong attempts" in refused.text
    nothing_changed(enrolment)
    assert is_signed_in(browser)
    assert audit_tags().count(str(EventTag.MFA_VERIFIED)) == 0
    assert audit_tags().count(str(EventTag.LOCKOUT)) == 1


def test_the_right_code_works_again_once_the_lock_has_ended(site: Flask, clock: Clock) -> None:
    browser = signed_in_browser(site)
    enrolment = enrol(browser)
    clock.next_step()
    for _ in range(THRESHOLD):
        assert regenerate(browser, wrong_code(enrolment)).status_code == 401

    clock.advance(16 * 60)  # the first lock lasts AUTHSERVER_LOCKOUT_SECONDS (15 minutes)

    assert regenerate(browser, enrolment.authenticator.code()).status_code == 200


def test_a_right_code_does_not_wipe_out_the_wrong_ones_before_it(site: Flask, clock: Clock) -> None:
    browser = signed_in_browser(site)
    enrolment = enrol(browser)
    clock.next_step()
    for _ in range(THRESHOLD - 1):
        assert remove(browser, wrong_code(enrolment)).status_code == 401
    assert regenerate(browser, enrolment.authenticator.code()).status_code == 200

    assert remove(browser, wrong_code(enrolment)).status_code == 401  # the fifth wrong one

    assert audit_tags().count(str(EventTag.LOCKOUT)) == 1


# --- ending the other sessions when the second factor changes ----------------------------------


def post_with_box(browser: FlaskClient, code: str, *, action: str, tick: bool) -> TestResponse:
    page = browser.get("/account/mfa")
    assert 'name="sign_out_others"' in page.text, "the page offers to sign out the others"
    fields = {"csrf_token": csrf_token(page.text), "code": code, "action": action}
    if tick:
        fields["sign_out_others"] = "y"
    return browser.post("/account/mfa", data=fields)


def revoke_others_rows() -> list[dict[str, Any]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == str(EventTag.SESSIONS_REVOKED_OTHERS))
    )
    return [row.detail for row in rows]


@pytest.mark.parametrize("tick", [True, False])
def test_setting_up_the_app_offers_to_sign_out_every_other_browser(
    site: Flask, clock: Clock, tick: bool
) -> None:
    other, this = signed_in_browser(site), signed_in_browser(site)
    authenticator, _ = read_setup_page(this.get("/account/mfa"))

    done = post_with_box(this, authenticator.code(), action="enrol", tick=tick)

    assert done.status_code == 200, done.text
    assert is_signed_in(this)
    assert is_signed_in(other) is not tick
    assert revoke_others_rows() == ([{"sessions": 1, "after": "mfa-enrol"}] if tick else [])


@pytest.mark.parametrize("tick", [True, False])
def test_removing_the_app_offers_to_sign_out_every_other_browser(
    site: Flask, clock: Clock, tick: bool
) -> None:
    others = [signed_in_browser(site), signed_in_browser(site)]
    this = signed_in_browser(site)
    enrolment = enrol(this)
    clock.next_step()

    done = post_with_box(this, enrolment.authenticator.code(), action="remove", tick=tick)

    assert done.status_code == 200, done.text
    assert not is_enrolled(the_user().id)
    assert is_signed_in(this)
    assert [is_signed_in(other) for other in others] == [not tick, not tick]
    assert revoke_others_rows() == ([{"sessions": 2, "after": "mfa-remove"}] if tick else [])


# --- signed-in forms that ask for the password again -------------------------------------------


def change_password(browser: FlaskClient, current: str) -> TestResponse:
    fields = {
        "current_password": current,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    return submit(browser, "/account/password", fields)


def delete_account(browser: FlaskClient, password: str) -> TestResponse:
    return submit(browser, "/account/delete", {"password": password, "confirm": "y"})


PASSWORD_FORMS: dict[str, Callable[[FlaskClient, str], TestResponse]] = {
    "change the password": change_password,
    "delete the account": delete_account,
}


@pytest.mark.parametrize("form", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_password_forms_use_up_the_sign_in_rate_limit(
    app: Flask, make_app: AppFactory, clock: Clock, form: Callable[[FlaskClient, str], TestResponse]
) -> None:
    # Three a minute per address and per account; the sign-in itself used one of each.
    limited = make_app(ratelimit_signin="3/minute")
    browser = signed_in_browser(limited)

    statuses = [form(browser, WRONG_PASSWORD).status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    refused = form(browser, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # The same windows as the sign-in page: signing in from this address waits too.
    assert sign_in(limited.test_client(), DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 429
    assert is_signed_in(browser)


@pytest.fixture
def verified_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hash argon2-cffi verifies against (a spy on the library, not on our code)."""
    seen: list[str] = []
    real_verify = PasswordHasher.verify

    def recording_verify(self: PasswordHasher, hash: Any, password: Any) -> bool:
        seen.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recording_verify)
    return seen


def test_a_locked_account_costs_no_hashing_in_signed_in_forms(
    site: Flask, clock: Clock, verified_hashes: list[str]
) -> None:
    browser = signed_in_browser(site)
    for _ in range(THRESHOLD):
        assert change_password(browser, WRONG_PASSWORD).status_code == 400
    verified_hashes.clear()

    answers = [form(browser, DEFAULT_PASSWORD) for form in PASSWORD_FORMS.values()]

    assert [answer.status_code for answer in answers] == [429, 429]
    assert verified_hashes == []
    assert the_user().password_hash  # the account is still there, unchanged

"""Account lockout through the sign-in page: reached, lifted, and never the owner's problem.

Browsers are test clients with cookie jars of their own: `owner` has signed in before (it holds
a device cookie), `stranger` never has. Time moves with time-machine; the database is real.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from authserver import database_guard
from authserver.accounts.lifecycle import check_password
from authserver.audit.events import EventTag
from authserver.extensions import db
from authserver.models import AuditEvent, LoginDevice, User
from authserver.security.devices import COOKIE_NAME, DEVICE_LIFETIME, SECURE_COOKIE_NAME
from authserver.security.errors import InvalidCredentials
from authserver.security.lockout import (
    claim_attempt,
    clear_locks,
    is_locked,
    lock_duration,
    register_failure,
    register_success,
)
from authserver.web.login import GENERIC_LOGIN_FAILURE
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.smtp import free_port
from tests.support.web import csrf_token, sign_in

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
WRONG = "not the right password"
SESSION_COOKIE = "authserver_session"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def lockout_app(app: Flask, make_app: AppFactory, outbox: Path) -> Flask:
    """The default lockout settings, with mail going to files we can read."""
    return make_app(mail_backend="file", mail_file_dir=str(outbox))


def attempt(browser: FlaskClient, password: str, email: str = DEFAULT_EMAIL) -> TestResponse:
    response = sign_in(browser, email, password)
    response.close()  # the lock notice goes out once the response is closed
    return response


def fail_times(browser: FlaskClient, count: int, email: str = DEFAULT_EMAIL) -> None:
    for _ in range(count):
        assert attempt(browser, WRONG, email).status_code == 401


def without_varying_values(html: str) -> str:
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", html)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", html)


def events(tag: EventTag) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == str(tag))))


def mails(outbox: Path) -> list[Message]:
    if not outbox.exists():
        return []
    return [message_from_bytes(path.read_bytes()) for path in sorted(outbox.iterdir())]


def unlock_link(message: Message) -> str:
    body = message.get_payload(decode=True).decode()
    match = re.search(r"https?://\S+/unlock/\S+", body)
    assert match, body
    return match.group(0)


def signed_in_owner(app: Flask) -> FlaskClient:
    owner = app.test_client()
    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303
    assert owner.get_cookie(COOKIE_NAME) is not None
    return owner


# --- reaching the lock ---------------------------------------------------------------------------


def test_five_failures_lock_out_unknown_browsers_even_with_the_right_password(
    lockout_app: Flask, clock: Any
) -> None:
    make_user()
    stranger = lockout_app.test_client()

    fail_times(stranger, 5)
    wrong = attempt(stranger, WRONG)
    right = attempt(lockout_app.test_client(), DEFAULT_PASSWORD)

    assert right.status_code == wrong.status_code == 401
    assert str(GENERIC_LOGIN_FAILURE) in right.text
    assert without_varying_values(right.text) == without_varying_values(wrong.text)
    assert not any(h.startswith(SESSION_COOKIE) for h in right.headers.getlist("Set-Cookie"))
    [lock] = events(EventTag.LOCKOUT)
    assert lock.detail["scope"] == "account"
    assert lock.detail["locked_until"] == (START + timedelta(minutes=15)).isoformat()


def test_four_failures_lock_nothing(lockout_app: Flask, clock: Any) -> None:
    make_user()
    stranger = lockout_app.test_client()

    fail_times(stranger, 4)

    assert attempt(stranger, DEFAULT_PASSWORD).status_code == 303
    assert events(EventTag.LOCKOUT) == []


def test_success_starts_the_count_again(lockout_app: Flask, clock: Any) -> None:
    make_user()
    stranger = lockout_app.test_client()
    fail_times(stranger, 4)
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 303

    fail_times(lockout_app.test_client(), 4)

    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 303


def test_the_lock_ends_by_itself(lockout_app: Flask, clock: Any) -> None:
    make_user()
    fail_times(lockout_app.test_client(), 5)

    clock.move_to(START + timedelta(minutes=14, seconds=59))
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 401
    clock.move_to(START + timedelta(minutes=15))
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 303


def test_each_further_lock_lasts_twice_as_long_up_to_the_maximum(
    app: Flask, make_app: AppFactory, clock: Any
) -> None:
    quick = make_app(lockout_threshold=1)  # one failure per lock keeps the hashing short
    make_user()
    now, lengths = START, []
    for _ in range(9):
        fail_times(quick.test_client(), 1)
        until = datetime.fromisoformat(events(EventTag.LOCKOUT)[-1].detail["locked_until"])
        lengths.append(until - now)
        now = until
        clock.move_to(now)

    minutes = [int(length.total_seconds() // 60) for length in lengths]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    # And it always ends: the right password works once the last one has run out.
    assert attempt(quick.test_client(), DEFAULT_PASSWORD).status_code == 303


def test_lock_lengths_follow_the_settings(lockout_app: Flask) -> None:
    settings = lockout_app.extensions["authserver.settings"]

    assert lock_duration(0, settings) == timedelta(seconds=settings.lockout_seconds)
    assert lock_duration(1, settings) == timedelta(seconds=2 * settings.lockout_seconds)
    assert lock_duration(10**6, settings) == timedelta(seconds=settings.lockout_max_seconds)


def test_thresholds_and_lengths_are_settings(app: Flask, make_app: AppFactory, clock: Any) -> None:
    strict = make_app(lockout_threshold=2, lockout_seconds=60, lockout_max_seconds=120)
    with strict.app_context():
        make_user()

    fail_times(strict.test_client(), 2)

    assert attempt(strict.test_client(), DEFAULT_PASSWORD).status_code == 401
    clock.move_to(START + timedelta(seconds=60))
    assert attempt(strict.test_client(), DEFAULT_PASSWORD).status_code == 303


def test_a_counter_left_at_the_threshold_locks_instead_of_refusing_forever(
    app: Flask, make_app: AppFactory, clock: Any
) -> None:
    make_user()
    fail_times(make_app().test_client(), 3)
    lowered = make_app(lockout_threshold=2)  # 3 failures already: over the new threshold

    refused = attempt(lowered.test_client(), DEFAULT_PASSWORD)
    clock.move_to(START + timedelta(minutes=15))

    assert refused.status_code == 401
    assert len(events(EventTag.LOCKOUT)) == 1
    assert attempt(lowered.test_client(), DEFAULT_PASSWORD).status_code == 303


def test_an_unknown_address_never_locks_and_is_audited_without_the_address(
    lockout_app: Flask, clock: Any
) -> None:
    fail_times(lockout_app.test_client(), 6, email="nobody@example.org")

    failures = events(EventTag.LOGIN_FAILURE)
    assert len(failures) == 6
    assert {event.user_subject for event in failures} == {None}
    assert all("nobody" not in str(event.detail) for event in failures)
    assert events(EventTag.LOCKOUT) == []


def test_every_failure_and_success_is_audited(lockout_app: Flask, clock: Any) -> None:
    alice = make_user()
    stranger = lockout_app.test_client()

    fail_times(stranger, 6)
    clock.move_to(START + timedelta(minutes=15))
    attempt(stranger, DEFAULT_PASSWORD)

    reasons = [event.detail["reason"] for event in events(EventTag.LOGIN_FAILURE)]
    assert reasons == ["password"] * 5 + ["locked"]
    assert {e.user_subject for e in events(EventTag.LOGIN_FAILURE)} == {alice.subject}
    assert len(events(EventTag.LOCKOUT)) == 1
    [success] = events(EventTag.LOGIN)
    assert success.user_subject == alice.subject


# --- recognised browsers (device cookies) --------------------------------------------------------


def test_a_browser_that_signed_in_before_is_not_locked_out_by_strangers(
    lockout_app: Flask, clock: Any
) -> None:
    make_user()
    owner = signed_in_owner(lockout_app)

    fail_times(lockout_app.test_client(), 8)

    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 401
    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303


def test_a_recognised_browser_has_its_own_small_quota(lockout_app: Flask, clock: Any) -> None:
    make_user()
    owner = signed_in_owner(lockout_app)

    fail_times(owner, 5)

    assert attempt(owner, DEFAULT_PASSWORD).status_code == 401  # this device is locked ...
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 303  # only it
    [lock] = events(EventTag.LOCKOUT)
    assert lock.detail["scope"] == "device"
    clock.move_to(START + timedelta(minutes=15))
    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303


def test_the_device_quota_is_a_setting(app: Flask, make_app: AppFactory, clock: Any) -> None:
    lenient = make_app(lockout_device_threshold=8)
    with lenient.app_context():
        make_user()
    owner = signed_in_owner(lenient)

    fail_times(owner, 7)

    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303


def test_the_device_cookie_is_signed_http_only_strict_and_long_lived(
    lockout_app: Flask, clock: Any
) -> None:
    make_user()

    response = attempt(lockout_app.test_client(), DEFAULT_PASSWORD)

    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME)]
    attributes = {part.strip() for part in header.split(";")[1:]}
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= attributes
    assert f"Max-Age={int(DEVICE_LIFETIME.total_seconds())}" in attributes
    assert "Secure" not in attributes  # cookies are not secure in this configuration


def test_with_secure_cookies_the_device_cookie_is_host_prefixed(
    app: Flask, make_app: AppFactory
) -> None:
    secure = make_app(secure_cookies=True)
    with secure.app_context():
        make_user()

    response = sign_in(
        secure.test_client(), DEFAULT_EMAIL, DEFAULT_PASSWORD, base_url="https://localhost"
    )

    [header] = [h for h in response.headers.getlist("Set-Cookie") if "device" in h]
    assert header.startswith(SECURE_COOKIE_NAME + "=")
    assert "Secure" in {part.strip() for part in header.split(";")}


def test_each_success_issues_a_new_device_id(lockout_app: Flask, clock: Any) -> None:
    make_user()
    owner = signed_in_owner(lockout_app)
    first = owner.get_cookie(COOKIE_NAME)
    assert first is not None

    attempt(owner, DEFAULT_PASSWORD)

    second = owner.get_cookie(COOKIE_NAME)
    assert second is not None and second.value != first.value
    assert db.session.scalar(select(func.count()).select_from(LoginDevice)) == 1
    # The old value is spent: a browser replaying it counts as a stranger.
    replay = lockout_app.test_client()
    replay.set_cookie(COOKIE_NAME, first.value)
    fail_times(lockout_app.test_client(), 5)
    assert attempt(replay, DEFAULT_PASSWORD).status_code == 401
    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    "forge",
    [
        lambda app, subject, device: "not-a-signed-value",
        lambda app, subject, device: URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="cookie-session"
        ).dumps([[subject, device]]),
        lambda app, subject, device: URLSafeTimedSerializer(
            "another secret key that is long enough", salt="authserver.device-cookie.v1"
        ).dumps([[subject, device]]),
    ],
    ids=["garbage", "another purpose's salt", "another key"],
)
def test_a_forged_device_cookie_counts_as_a_stranger(
    lockout_app: Flask, clock: Any, forge: Any
) -> None:
    alice = make_user()
    owner = signed_in_owner(lockout_app)
    device = db.session.scalars(select(LoginDevice.device_id)).one()
    forger = lockout_app.test_client()
    forger.set_cookie(COOKIE_NAME, forge(lockout_app, alice.subject, device))

    fail_times(lockout_app.test_client(), 5)

    assert attempt(forger, DEFAULT_PASSWORD).status_code == 401
    assert attempt(owner, DEFAULT_PASSWORD).status_code == 303


def test_one_browser_is_recognised_for_several_accounts(lockout_app: Flask, clock: Any) -> None:
    make_user()
    make_user("bob@example.org")
    shared = lockout_app.test_client()
    assert attempt(shared, DEFAULT_PASSWORD).status_code == 303
    assert attempt(shared, DEFAULT_PASSWORD, "bob@example.org").status_code == 303

    fail_times(lockout_app.test_client(), 5)
    fail_times(lockout_app.test_client(), 5, email="bob@example.org")

    assert attempt(shared, DEFAULT_PASSWORD).status_code == 303
    assert attempt(shared, DEFAULT_PASSWORD, "bob@example.org").status_code == 303


# --- telling the owner, and unlocking -----------------------------------------------------------


def test_the_owner_is_mailed_a_link_built_from_the_issuer(
    lockout_app: Flask, clock: Any, outbox: Path
) -> None:
    make_user()
    stranger = lockout_app.test_client()

    for _ in range(5):  # with a forged Host header: the link must not follow it
        sign_in(stranger, DEFAULT_EMAIL, WRONG, base_url="http://evil.example").close()

    [message] = mails(outbox)
    assert message["To"] == DEFAULT_EMAIL
    link = unlock_link(message)
    assert link.startswith("http://localhost/unlock/")
    assert len(link.rsplit("/", 1)[1]) >= 43  # 256 bits in base64url
    assert WRONG not in message.as_string()


def test_the_unlock_link_asks_first_then_unlocks_once(
    lockout_app: Flask, clock: Any, outbox: Path
) -> None:
    make_user()
    fail_times(lockout_app.test_client(), 5)
    path = unlock_link(mails(outbox)[0]).removeprefix("http://localhost")
    owner = lockout_app.test_client()

    page = owner.get(path)
    owner.get(path)  # a mail scanner fetching the link changes nothing
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 401

    token = path.rsplit("/", 1)[1]
    done = owner.post("/unlock", data={"csrf_token": csrf_token(page.text), "token": token})
    again = owner.post("/unlock", data={"csrf_token": csrf_token(page.text), "token": token})

    assert done.status_code == 200
    assert "Sign-in is unlocked" in done.text
    assert again.status_code == 400
    assert owner.get(path).status_code == 404
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 303
    [unlocked] = events(EventTag.UNLOCK)
    assert unlocked.detail == {"by": "owner", "was_locked": True}


def test_the_unlock_form_needs_its_csrf_token(lockout_app: Flask, clock: Any, outbox: Path) -> None:
    make_user()
    fail_times(lockout_app.test_client(), 5)
    token = unlock_link(mails(outbox)[0]).rsplit("/", 1)[1]

    response = lockout_app.test_client().post("/unlock", data={"token": token})

    assert response.status_code == 400
    assert attempt(lockout_app.test_client(), DEFAULT_PASSWORD).status_code == 401


def test_the_unlock_link_dies_with_the_lock(lockout_app: Flask, clock: Any, outbox: Path) -> None:
    make_user()
    fail_times(lockout_app.test_client(), 5)
    path = unlock_link(mails(outbox)[0]).removeprefix("http://localhost")
    owner = lockout_app.test_client()
    page = owner.get(path)

    clock.move_to(START + timedelta(minutes=15))

    assert owner.get(path).status_code == 404
    token = path.rsplit("/", 1)[1]
    late = owner.post("/unlock", data={"csrf_token": csrf_token(page.text), "token": token})
    assert late.status_code == 400


@pytest.mark.parametrize("token", ["x" * 43, "", "x" * 500])
def test_an_unknown_unlock_token_gets_the_same_page(
    lockout_app: Flask, clock: Any, token: str
) -> None:
    browser = lockout_app.test_client()
    page = browser.get("/login")

    response = browser.post("/unlock", data={"csrf_token": csrf_token(page.text), "token": token})

    assert response.status_code == 400
    assert "This link does not work" in response.text


def test_a_device_lock_mails_the_owner_too(lockout_app: Flask, clock: Any, outbox: Path) -> None:
    make_user()
    owner = signed_in_owner(lockout_app)

    fail_times(owner, 5)

    [message] = mails(outbox)
    assert "that browser" in message.get_payload(decode=True).decode()


def test_mail_that_cannot_be_sent_leaves_the_lock_in_place(
    app: Flask, make_app: AppFactory, clock: Any
) -> None:
    unreachable = make_app(mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port())
    with unreachable.app_context():
        make_user()

    fail_times(unreachable.test_client(), 5)

    assert attempt(unreachable.test_client(), DEFAULT_PASSWORD).status_code == 401
    assert len(events(EventTag.LOCKOUT)) == 1


# --- the service, as the MFA step will use it ----------------------------------------------------


def test_second_factor_failures_count_towards_the_same_lock(app: Flask) -> None:
    alice = make_user()
    # A right password is no guess: it gives its attempt back; each wrong code counts once.
    check_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=START)

    states = []
    for _ in range(5):
        counted = claim_attempt(alice, now=START, device=None)
        assert counted.is_allowed
        states.append(register_failure(counted, now=START, factor="mfa", reason="mfa"))

    assert [state.just_locked for state in states] == [False, False, False, False, True]
    assert is_locked(alice, now=START, device=None)
    assert not claim_attempt(alice, now=START, device=None).is_allowed
    assert not is_locked(alice, now=START + timedelta(minutes=15), device=None)


def test_a_completed_sign_in_resets_what_the_password_step_counted(app: Flask) -> None:
    alice = make_user()
    for _ in range(4):
        check_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=START)

    register_success(alice, now=START, device=None)

    db.session.expire_all()
    assert db.session.get(User, alice.id).failed_logins == 0  # type: ignore[union-attr]
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            check_password(DEFAULT_EMAIL, WRONG, now=START)
    assert not is_locked(alice, now=START, device=None)  # 4 + 4 would have locked
    with pytest.raises(InvalidCredentials):
        check_password(DEFAULT_EMAIL, WRONG, now=START)
    assert is_locked(alice, now=START, device=None)


def test_clear_locks_leaves_committing_and_auditing_to_the_caller(app: Flask) -> None:
    alice = make_user()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            check_password(DEFAULT_EMAIL, WRONG, now=START)

    assert clear_locks(alice, now=START) is True
    db.session.rollback()  # not committed: still locked
    assert is_locked(alice, now=START, device=None)
    clear_locks(alice, now=START)
    db.session.commit()

    assert not is_locked(alice, now=START, device=None)
    assert events(EventTag.UNLOCK) == []
    assert check_password(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=START) == alice


# --- parallel guessing ----------------------------------------------------------------------------


@pytest.fixture
def verified_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hash argon2-cffi verifies against, from any thread (a spy on the library)."""
    seen: list[str] = []
    real_verify = PasswordHasher.verify

    def recording_verify(self: PasswordHasher, hash: Any, password: Any) -> bool:
        seen.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recording_verify)
    return seen


@pytest.fixture
def pool_that_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL pool that lets a request wait for a connection as long as it takes.

    Twenty requests at once are more than the pool's fifteen connections, and a loaded machine
    may keep the first ones past the one second a request normally waits (503, database busy):
    this test is about the lockout under parallel guesses, not about a full pool. Requested
    before `app`, so the engine is made with it.
    """
    monkeypatch.setattr(database_guard, "POOL_TIMEOUT_SECONDS", 60.0)


def test_twenty_parallel_guesses_get_at_most_five_evaluated(
    pool_that_waits: None, app: Flask, verified_hashes: list[str]
) -> None:
    alice = make_user()
    password_hash = alice.password_hash
    browsers = [app.test_client() for _ in range(20)]
    tokens = [csrf_token(browser.get("/login").text) for browser in browsers]
    db.session.remove()  # the threads use connections of their own
    barrier = threading.Barrier(len(browsers))
    statuses: list[int] = []

    def guess(browser: FlaskClient, token: str) -> None:
        barrier.wait()
        response = browser.post(
            "/login", data={"csrf_token": token, "email": DEFAULT_EMAIL, "password": WRONG}
        )
        statuses.append(response.status_code)

    pairs = zip(browsers, tokens, strict=True)
    threads = [threading.Thread(target=guess, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [401] * 20
    evaluated = [seen for seen in verified_hashes if seen == password_hash]
    assert len(evaluated) == 5  # the threshold, and not one more
    assert len(verified_hashes) == 20  # the others paid the same price on the dummy hash
    reasons = [event.detail["reason"] for event in events(EventTag.LOGIN_FAILURE)]
    assert sorted(reasons) == ["locked"] * 15 + ["password"] * 5
    assert len(events(EventTag.LOCKOUT)) == 1

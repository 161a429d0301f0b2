"""Sign-in hardening against live servers: no enumeration, lockout, rate limits.

Real `authserver serve` processes (tests/support/live_server.py) and requests sessions standing
in for browsers, over loopback only. Mail goes to the file backend and is read from disk. The
two-instance test needs PostgreSQL and Redis (AUTHSERVER_TEST_DATABASE_URL and
AUTHSERVER_TEST_REDIS_URL) and skips, saying so, without them.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack
from email import message_from_bytes
from pathlib import Path

import pytest
import redis
import requests

from authserver.dev_secrets import new_encryption_key, new_secret_key
from tests.support.databases import (
    POSTGRES_ENV,
    REDIS_ENV,
    fresh_postgres_database,
    skip_for_want_of,
)
from tests.support.live_browser import Browser, only_form
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
MAIL_DEADLINE_SECONDS = 10
PASSWORD = "correct horse battery staple"
WRONG = "not the right password"
GENERIC_FAILURE = (
    "The email address or password is incorrect, or sign-in to this account is paused after "
    "repeated attempts. If it is paused, we have sent an e-mail with a way to unlock it."
)
TRIES = 20


def create_user(server: LiveServer, email: str) -> None:
    # --verified: no verification mail, so the only mail these tests read is the one they expect.
    server.cli("user", "create", email, "--password-stdin", "--verified", stdin=PASSWORD + "\n")


def unique_email(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.test"


def sign_in(browser: Browser, server: LiveServer, email: str, password: str) -> requests.Response:
    """The sign-in form filled in and posted; redirects on the server followed."""
    page = browser.open(server.url("/login"))
    return browser.submit(page, email=email, password=password)


def timed_sign_in(
    browser: Browser, server: LiveServer, email: str, password: str
) -> tuple[float, requests.Response]:
    """Seconds the POST alone took (the form is fetched first, outside the clock)."""
    page = browser.open(server.url("/login"))
    data = {**only_form(page).fields, "email": email, "password": password}
    started = time.perf_counter()
    response = browser.http.post(
        server.url("/login"), data=data, allow_redirects=False, timeout=TIMEOUT_SECONDS
    )
    return time.perf_counter() - started, response


def without_varying_values(html: str) -> str:
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", html)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", html)


def is_signed_in(response: requests.Response) -> bool:
    return response.status_code == 200 and "Signed in as" in response.text


def wait_for_mail(folder: Path, to: str) -> str:
    """The body of the message to `to`; the server sends it once its response is out."""
    deadline = time.monotonic() + MAIL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            message = message_from_bytes(path.read_bytes())
            if message["To"] == to:
                return str(message.get_payload(decode=True).decode())
        time.sleep(0.1)
    pytest.fail(f"no message to {to} in {folder} after {MAIL_DEADLINE_SECONDS}s")


def served(
    tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str
) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp(name), **settings) as server:
        yield server
    assert server.error_lines() == [], server.log()


# --- no enumeration ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Neither lockout nor rate limits may cut in: every try must really check a password.
    yield from served(
        tmp_path_factory,
        "timing",
        AUTHSERVER_LOCKOUT_THRESHOLD=str(TRIES + 5),
        AUTHSERVER_RATELIMIT_SIGNIN="1000/minute",
    )


def test_unknown_email_and_wrong_password_take_the_same_time(timing_server: LiveServer) -> None:
    known = unique_email("known")
    create_user(timing_server, known)
    unknown = unique_email("nobody")
    times: dict[str, list[float]] = {known: [], unknown: []}
    pages: dict[str, set[str]] = {known: set(), unknown: set()}

    with Browser(timing_server.base_url, timeout=TIMEOUT_SECONDS) as browser:
        for email in (known, unknown):  # warm up both paths in the worker(s)
            timed_sign_in(browser, timing_server, email, WRONG)
        for round_number in range(TRIES):
            # Alternate which goes first, so drift in the machine's load hits both alike.
            order = (known, unknown) if round_number % 2 == 0 else (unknown, known)
            for email in order:
                elapsed, response = timed_sign_in(browser, timing_server, email, WRONG)
                assert response.status_code == 401, response.text
                times[email].append(elapsed)
                pages[email].add(without_varying_values(response.text))

    assert pages[known] == pages[unknown]
    assert len(pages[known]) == 1
    assert GENERIC_FAILURE in next(iter(pages[known]))
    ratio = statistics.median(times[known]) / statistics.median(times[unknown])
    assert 0.5 <= ratio <= 2.0, (ratio, times)


# --- lockout -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lockout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    mail = tmp_path_factory.mktemp("lockout-mail")
    yield from served(
        tmp_path_factory,
        "lockout",
        AUTHSERVER_MAIL_BACKEND="file",
        AUTHSERVER_MAIL_FILE_DIR=str(mail),
        # Every browser here is 127.0.0.1: the per-address limit must stay out of the way.
        AUTHSERVER_RATELIMIT_SIGNIN="1000/minute",
    )


def mail_folder(server: LiveServer) -> Path:
    return Path(server.env["AUTHSERVER_MAIL_FILE_DIR"])


def test_lockout_is_reached_and_lifted_by_the_emailed_link(lockout_server: LiveServer) -> None:
    email = unique_email("locked")
    create_user(lockout_server, email)
    with ExitStack() as stack:
        attacker, owner = (
            stack.enter_context(Browser(lockout_server.base_url, timeout=TIMEOUT_SECONDS))
            for _ in range(2)
        )
        wrong = [sign_in(attacker, lockout_server, email, WRONG) for _ in range(5)]
        right = sign_in(attacker, lockout_server, email, PASSWORD)

        assert [answer.status_code for answer in wrong] == [401] * 5
        assert right.status_code == 401  # locked: even the right password fails ...
        assert without_varying_values(right.text) == without_varying_values(wrong[0].text)
        body = wait_for_mail(mail_folder(lockout_server), email)  # ... and the owner is told
        [link] = re.findall(r"http://\S+/unlock/\S+", body)
        assert link.startswith(lockout_server.base_url + "/unlock/")

        confirm = owner.open(link)
        assert confirm.status_code == 200
        assert sign_in(owner, lockout_server, email, PASSWORD).status_code == 401  # not yet
        done = owner.submit(confirm)
        assert "Sign-in is unlocked" in done.text
        assert owner.open(link).status_code == 404  # single use

        assert is_signed_in(sign_in(owner, lockout_server, email, PASSWORD))


def test_strangers_cannot_lock_out_a_browser_that_signed_in_before(
    lockout_server: LiveServer,
) -> None:
    email = unique_email("owner")
    create_user(lockout_server, email)
    with ExitStack() as stack:
        owner, attacker, newcomer = (
            stack.enter_context(Browser(lockout_server.base_url, timeout=TIMEOUT_SECONDS))
            for _ in range(3)
        )
        assert is_signed_in(sign_in(owner, lockout_server, email, PASSWORD))

        for _ in range(6):
            sign_in(attacker, lockout_server, email, WRONG)

        assert sign_in(newcomer, lockout_server, email, PASSWORD).status_code == 401
        assert is_signed_in(sign_in(owner, lockout_server, email, PASSWORD))


def test_an_operator_unlocks_from_the_command_line(lockout_server: LiveServer) -> None:
    email = unique_email("support")
    create_user(lockout_server, email)
    with Browser(lockout_server.base_url, timeout=TIMEOUT_SECONDS) as browser:
        for _ in range(5):
            sign_in(browser, lockout_server, email, WRONG)
        assert sign_in(browser, lockout_server, email, PASSWORD).status_code == 401

        assert lockout_server.cli_json("user", "unlock", email) == {
            "email": email,
            "was_locked": True,
        }

        assert is_signed_in(sign_in(browser, lockout_server, email, PASSWORD))


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limits_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Without Redis, counters are per process: one worker makes the counts exact.
    yield from served(
        tmp_path_factory,
        "limits",
        AUTHSERVER_WORKERS="1",
        AUTHSERVER_RATELIMIT_SIGNIN="3/minute",
        AUTHSERVER_RATELIMIT_TOKEN="2/minute",
    )


def test_too_many_sign_ins_get_a_429_with_the_usual_page(limits_server: LiveServer) -> None:
    with Browser(limits_server.base_url, timeout=TIMEOUT_SECONDS) as browser:
        answers = [sign_in(browser, limits_server, unique_email("x"), WRONG) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    # The usual sign-in page; only its message differs, and it says how long to wait.
    alert = re.compile(r'<p class="error" role="alert">[^<]*</p>')
    assert re.search(r"Please wait \d+ (seconds?|minute) and try again\.", answers[-1].text)
    refused, limited = (alert.sub("", without_varying_values(a.text)) for a in answers[::3])
    assert limited == refused


def test_too_many_token_requests_get_a_429_json_error(limits_server: LiveServer) -> None:
    client = limits_server.cli_json(
        "client", "create", "--name", "batch job", "--grant-type", "client_credentials",
        "--scope", "api.read",
    )  # fmt: skip
    credentials = (client["client_id"], client["client_secret"])

    answers = [
        requests.post(
            limits_server.url("/oauth/token"),
            data={"grant_type": "client_credentials", "scope": "api.read"},
            auth=credentials,
            timeout=TIMEOUT_SECONDS,
        )
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].json()["error"] == "temporarily_unavailable"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


# --- two instances sharing PostgreSQL and Redis ------------------------------------------------


@pytest.fixture
def two_instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    redis_url = os.environ.get(REDIS_ENV)
    if not (os.environ.get(POSTGRES_ENV) and redis_url):
        skip_for_want_of(request, f"needs {POSTGRES_ENV} and {REDIS_ENV}")
    prefix = f"authserver-e2e-{secrets.token_hex(6)}"
    with ExitStack() as stack:
        shared = {
            "AUTHSERVER_DATABASE_URL": stack.enter_context(fresh_postgres_database()),
            "AUTHSERVER_REDIS_URL": redis_url,
            "AUTHSERVER_RATELIMIT_KEY_PREFIX": prefix,
            "AUTHSERVER_RATELIMIT_SIGNIN": "6/minute",
            # Instances of one deployment share their secrets, as they share the database.
            "AUTHSERVER_SECRET_KEY": new_secret_key(),
            "AUTHSERVER_ENCRYPTION_KEYS": new_encryption_key(),
        }
        servers = [
            stack.enter_context(live_server(tmp_path_factory.mktemp(f"instance{n}"), **shared))
            for n in range(2)
        ]
        yield servers
        for server in servers:
            assert server.error_lines() == [], server.log()
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.mark.services  # `two_instances` reads the variables itself: --services-only keeps it
def test_two_instances_share_the_lockout_and_the_rate_limits(
    two_instances: list[LiveServer],
) -> None:
    first, second = two_instances
    email = unique_email("shared")
    create_user(first, email)
    with ExitStack() as stack:
        on_first = stack.enter_context(Browser(first.base_url, timeout=TIMEOUT_SECONDS))
        on_second = stack.enter_context(Browser(second.base_url, timeout=TIMEOUT_SECONDS))

        for _ in range(3):
            assert sign_in(on_first, first, email, WRONG).status_code == 401
        for _ in range(2):
            assert sign_in(on_second, second, email, WRONG).status_code == 401

        # Five failures across the two: locked on both.
        assert sign_in(on_first, first, email, PASSWORD).status_code == 401
        # Six attempts across the two: the seventh is over the shared limit on either.
        assert sign_in(on_second, second, email, PASSWORD).status_code == 429

"""Scenario (b): the Redis both instances share is stopped, then started again, under load."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import requests

from tests.faults.checks import let_load_run, listed, log_problems, token_problems
from tests.faults.deployment import REDIRECT_URI, RESET_LIMIT_PER_MINUTE, Deployment
from tests.faults.figures import measure, publish
from tests.faults.instances import Instance
from tests.faults.load import Load
from tests.faults.people import (
    account_page,
    consent_to,
    enrol_authenticator,
    is_signed_in,
    second_factor,
    sign_in,
)
from tests.faults.recorder import Recorder
from tests.support.live_browser import Browser, forms_of

OUTAGE_SECONDS = 8
SHARED_AGAIN_WITHIN_SECONDS = 5
TIMEOUT_SECONDS = 10


def reset_request(instance: Instance, email: str) -> int:
    """One password-reset request, its form read from and posted to this instance."""
    with requests.Session() as browser:
        page = browser.get(instance.url("/reset"), timeout=TIMEOUT_SECONDS)
        if page.status_code != 200:
            return page.status_code
        fields = {**forms_of(page.text)[0].fields, "email": email}
        answer = browser.post(instance.url("/reset"), data=fields, timeout=TIMEOUT_SECONDS)
        return answer.status_code


def gist(html: str) -> str:
    """A page in a few words for a failure message: its title."""
    found = re.search(r"<title>([^<]*)</title>", html)
    return repr(found.group(1) if found else html[:120])


def people_problems(
    system: Deployment, mfa_email: str, totp: pyotp.TOTP, client_id: str
) -> list[str]:
    """Sign in with a password and with MFA, consent, the account page: no 5xx, all work."""
    problems = []
    with Browser(system.balancer.base_url, timeout=TIMEOUT_SECONDS) as browser:
        signed_in = sign_in(browser, system.new_person())
        if urlsplit(signed_in.url).path != "/" or signed_in.status_code != 200:
            problems.append(f"password sign-in ended at {signed_in.status_code} {signed_in.url}")
        page = account_page(browser)
        if page.status_code != 200 or urlsplit(page.url).path != "/account":
            problems.append(f"account page: {page.status_code} at {page.url}: {gist(page.text)}")
        consented = consent_to(browser, client_id)
        location = consented.headers.get("Location", "")
        if consented.status_code != 302 or not location.startswith(REDIRECT_URI):
            problems.append(
                f"consent: {consented.status_code} at {consented.url}: {gist(consented.text)}"
            )
    with Browser(system.balancer.base_url, timeout=TIMEOUT_SECONDS) as browser:
        challenge = sign_in(browser, mfa_email)
        done = second_factor(browser, challenge, totp)
        if urlsplit(done.url).path != "/" or done.status_code != 200:
            problems.append(
                f"MFA sign-in ended at {done.status_code} {done.url}: {gist(done.text)}"
            )
    return problems


def test_redis_stopped_and_started_under_load_costs_no_sign_in_and_no_session(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10 §1, "Redis outage"): while the shared Redis is down (8 s) and
    after it is back, no request answers 5xx (the load: tokens, introspection, refresh, JWKS,
    discovery, sign-in page and password sign-in, account page, /readyz); during the outage a
    person can sign in with a password, sign in with a second factor, consent to a client and
    open the account page; sessions made before the outage and during it are still signed in
    after Redis restarted (empty); within 5 s of Redis answering again rate limits count in
    the shared store again (the password-reset limit, 5 a minute, is reached by 5 requests
    spread over both instances, so the 6th is refused with 429); no refresh token is lost or
    left live twice; the instances log no error and no traceback.
    """
    # Before the outage: a signed-in browser, an account with an authenticator, a new client.
    mfa_email = system.new_person()
    with Browser(system.balancer.base_url, timeout=TIMEOUT_SECONDS) as setup:
        sign_in(setup, mfa_email)
        totp = enrol_authenticator(setup)
    assert totp is not None, "could not set up an authenticator before the outage"
    client = system.cli_json("client", "create", "--name", "consent-in-outage",
                             "--redirect-uri", REDIRECT_URI,
                             "--scope", "openid profile email offline_access")  # fmt: skip
    recorder = Recorder()
    problems: list[str] = []
    with (
        Browser(system.balancer.base_url, timeout=TIMEOUT_SECONDS) as old,
        Browser(system.balancer.base_url, timeout=TIMEOUT_SECONDS) as during,
    ):
        sign_in(old, system.new_person())
        assert is_signed_in(old), "could not sign in before the outage"
        with Load(system.balancer.base_url, system.credentials, recorder) as load:
            let_load_run(recorder, seconds=2, at_least=20)
            stopped_at = time.monotonic()
            system.redis.stop()
            problems += [f"during the outage: {p}" for p in
                         people_problems(system, mfa_email, totp, client["client_id"])]  # fmt: skip
            sign_in(during, system.new_person())
            if not is_signed_in(during):
                problems.append("during the outage: a new sign-in does not stay signed in")
            let_load_run(recorder, seconds=max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))
            system.redis.start()
            back_at = time.monotonic()
            let_load_run(recorder, seconds=SHARED_AGAIN_WITHIN_SECONDS, at_least=10)
            statuses = [
                reset_request(system.instances[turn % 2], "nobody@example.test")
                for turn in range(RESET_LIMIT_PER_MINUTE + 1)
            ]
            let_load_run(recorder, seconds=2, at_least=10)
        if not is_signed_in(old):
            problems.append("the session made before the outage was lost with Redis")
        if not is_signed_in(during):
            problems.append("the session made during the outage was lost when Redis came back")
    samples = recorder.samples()
    figures = measure(samples, (stopped_at, back_at))
    figures["reset_requests_after_return"] = statuses
    summary = publish("redis-restart", figures, figures_dir)

    server_errors = [s for s in samples if s.status is None or s.status >= 500]
    if server_errors:
        problems.append(f"{len(server_errors)} requests answered 5xx or nothing: "
                        f"{listed(server_errors)}")  # fmt: skip
    if statuses[:-1].count(429) or statuses[-1] != 429:
        problems.append(
            f"{SHARED_AGAIN_WITHIN_SECONDS}s after Redis returned, {RESET_LIMIT_PER_MINUTE + 1} "
            f"reset requests over both instances answered {statuses}: the limit of "
            f"{RESET_LIMIT_PER_MINUTE} is not counted in the shared store"
        )
    problems += token_problems(system, load.visitors)
    for instance in system.instances:
        problems += log_problems(instance)
    assert not problems, "\n".join([summary, *problems])

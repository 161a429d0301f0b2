"""What every scenario checks after its load has stopped: answers, tokens and logs.

Each function returns the problems it found as sentences (an empty list when none), so that a
failing scenario says everything that went wrong at once, with the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from tests.faults.deployment import Deployment
from tests.faults.instances import Instance
from tests.faults.recorder import Recorder, Sample
from tests.faults.traffic import Visitor
from tests.support.live_server import is_error_line

MAX_LISTED = 5


def listed(samples: list[Sample]) -> str:
    shown = "; ".join(sample.describe() for sample in samples[:MAX_LISTED])
    more = f" (+{len(samples) - MAX_LISTED} more)" if len(samples) > MAX_LISTED else ""
    return shown + more


def answered_500(samples: list[Sample]) -> list[str]:
    """The issue's first rule, at any time: no 500 (a 503 with Retry-After is the answer)."""
    bad = [s for s in samples if s.status is not None and s.status >= 500 and s.status != 503]
    return [f"{len(bad)} answers 5xx other than 503: {listed(bad)}"] if bad else []


def token_problems(system: Deployment, visitors: list[Visitor]) -> list[str]:
    """No refresh token lost (refused though never used) and none left live twice: of every
    token a visitor was given, only the newest may still be active (RFC 7662 introspection)."""
    problems = []
    lost = [token for visitor in visitors for token in visitor.lost_refresh_tokens]
    if lost:
        problems.append(f"{len(lost)} refresh-token families lost: a token never used was refused")
    credentials = system.credentials
    for number, visitor in enumerate(visitors):
        live = []
        for position, token in enumerate(visitor.refresh_tokens):
            answer = requests.post(
                system.instances[-1].url("/oauth/introspect"),
                data={"token": token, "token_type_hint": "refresh_token"},
                auth=(credentials.app_client_id, credentials.app_client_secret),
                timeout=10,
            )
            if answer.status_code != 200:
                problems.append(f"introspection answered {answer.status_code}: {answer.text[:200]}")
                break
            if answer.json().get("active"):
                live.append(position)
        newest = len(visitor.refresh_tokens) - 1
        if visitor.refresh_tokens and live != [newest]:
            problems.append(
                f"visitor {number}: of {newest + 1} refresh tokens, live are {live} "
                f"(only the newest, {newest}, may be)"
            )
    return problems


def log_problems(instance: Instance) -> list[str]:
    """No traceback, no ERROR line: an unhandled exception is a 500 somebody got."""
    bad = [line for line in instance.log().splitlines() if is_error_line(line)]
    if not bad:
        return []
    return [f"{instance.name} logged {len(bad)} error lines, first: {bad[0][:400]}"]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll `condition` until true; returns when (time.monotonic()); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def let_load_run(recorder: Recorder, *, seconds: float, at_least: int = 1) -> None:
    """Keep the load going for `seconds` and until it has sent `at_least` more requests."""
    before = len(recorder.samples())
    until = time.monotonic() + seconds
    wait_for(
        lambda: time.monotonic() >= until and len(recorder.samples()) - before >= at_least,
        timeout=seconds + 30,
        what=f"the load sent {at_least} requests in {seconds}s",
    )

"""Scenario (d): one authorization code and one refresh token used many times at once, the
requests spread over the two instances by the balancer."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import requests

from tests.faults.checks import answered_500, listed
from tests.faults.deployment import Deployment
from tests.faults.figures import measure, publish
from tests.faults.recorder import Recorder
from tests.faults.traffic import Visitor, basic

CODE_REDEMPTIONS = 50
REFRESH_USES = 20


def all_at_once(
    count: int, send: Callable[[], requests.Response | None]
) -> list[requests.Response | None]:
    """Run `send()` in `count` threads released together; their answers, in no order."""
    barrier = threading.Barrier(count)
    answers: list[requests.Response | None] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait(timeout=30)
        answer = send()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def outcome(answers: list[requests.Response | None]) -> Counter[str]:
    """How many won (200), lost with invalid_grant, or answered something else."""
    seen: Counter[str] = Counter()
    for answer in answers:
        if answer is None:
            seen["no answer"] += 1
        elif answer.status_code == 400 and answer.json().get("error") == "invalid_grant":
            seen["invalid_grant"] += 1
        else:
            seen[str(answer.status_code)] += 1
    return seen


def token_is_refused(system: Deployment, refresh_token: str) -> bool:
    credentials = system.credentials
    answer = requests.post(
        system.balancer.url("/oauth/token"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=basic(credentials.app_client_id, credentials.app_client_secret),
        timeout=10,
    )
    return answer.status_code == 400 and answer.json().get("error") == "invalid_grant"


def is_active(system: Deployment, token: str, hint: str) -> bool:
    credentials = system.credentials
    answer = requests.post(
        system.balancer.url("/oauth/introspect"),
        data={"token": token, "token_type_hint": hint},
        auth=basic(credentials.app_client_id, credentials.app_client_secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["active"])


def test_fifty_redemptions_of_one_code_at_once_issue_tokens_once(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10 §3; RFC 6749 §4.1.2; DESIGN.md "Tokens"): of 50 simultaneous
    redemptions of one code, across both instances, exactly 1 answers 200 and 49 answer 400
    invalid_grant; none answers 5xx or goes unanswered. A code used twice revokes what it
    issued (RFC 6749 §4.1.2 SHOULD, DESIGN.md "Code replay revokes what that code issued"): the
    winner's refresh token is then refused and its access token is inactive.
    """
    recorder = Recorder()
    visitor = Visitor(system.balancer.base_url, system.credentials, recorder)
    with requests.Session() as browser:
        code = visitor.authorization_code(browser)
    assert code is not None, listed(recorder.samples())
    handed_before = Counter(system.balancer.handed)

    answers = all_at_once(CODE_REDEMPTIONS, lambda: visitor.redeem_answer(code))

    samples = [s for s in recorder.samples() if s.action == "token (code)"]
    publish("code-race", measure(samples, None), figures_dir)
    handed = Counter(system.balancer.handed) - handed_before
    assert len(handed) == 2, f"the redemptions did not reach both instances: {handed}"
    seen = outcome(answers)
    assert seen == {"200": 1, "invalid_grant": CODE_REDEMPTIONS - 1}, (
        f"{dict(seen)}; {answered_500(samples)}"
    )
    winner = next(a for a in answers if a is not None and a.status_code == 200).json()
    assert token_is_refused(system, winner["refresh_token"]), "the replayed code's grant lives"
    assert not is_active(system, winner["access_token"], "access_token")


def test_twenty_uses_of_one_refresh_token_at_once_rotate_it_once_and_end_the_family(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10 §3 and issue 14 §5; RFC 9700 §4.14.2; DESIGN.md "Tokens"): of 20
    simultaneous uses of one refresh token, across both instances, exactly 2 answer 200 (the
    rotation, and one presentation forgiven as a client's retry after a lost answer, within
    AUTHSERVER_REFRESH_REUSE_GRACE_SECONDS) and both carry the same successor; 18 answer 400
    invalid_grant; none answers 5xx or goes unanswered. A third presentation is reuse: RFC 9700
    §4.14.2 ("the authorization server ... will revoke the active refresh token") says the
    whole family is revoked, so the successor is refused afterwards and the access tokens of
    the grant are inactive.
    """
    recorder = Recorder()
    visitor = Visitor(system.balancer.base_url, system.credentials, recorder)
    with requests.Session() as browser:
        code = visitor.authorization_code(browser)
    assert code is not None, listed(recorder.samples())
    first = visitor.redeem(code)
    assert first is not None, listed(recorder.samples())
    handed_before = Counter(system.balancer.handed)

    answers = all_at_once(REFRESH_USES, lambda: visitor.refresh_answer(first["refresh_token"]))

    samples = [s for s in recorder.samples() if s.action == "token (refresh)"]
    publish("refresh-race", measure(samples, None), figures_dir)
    handed = Counter(system.balancer.handed) - handed_before
    assert len(handed) == 2, f"the refreshes did not reach both instances: {handed}"
    seen = outcome(answers)
    assert seen == {"200": 2, "invalid_grant": REFRESH_USES - 2}, (
        f"{dict(seen)}; {answered_500(samples)}"
    )
    winners = [a.json() for a in answers if a is not None and a.status_code == 200]
    assert winners[0]["refresh_token"] == winners[1]["refresh_token"]
    assert token_is_refused(system, winners[0]["refresh_token"]), "the reused family still lives"
    for each in winners:
        assert not is_active(system, each["access_token"], "access_token")
    assert not is_active(system, first["access_token"], "access_token")

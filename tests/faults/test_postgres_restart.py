"""Scenario (a): the machine's PostgreSQL is stopped for about 10 s under load, then started.

This stops the shared cluster (other PostgreSQL tests on the machine fail meanwhile), so it is
one test, run only by `make test-faults`; the cluster is started again however it ends.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.faults.checks import (
    answered_500,
    let_load_run,
    listed,
    log_problems,
    token_problems,
    wait_for,
)
from tests.faults.deployment import WORKERS_PER_INSTANCE, Deployment
from tests.faults.figures import measure, publish
from tests.faults.instances import Instance
from tests.faults.load import Load
from tests.faults.postgres_cluster import postgres_outage
from tests.faults.recorder import Need, Recorder, Sample, Surface
from tests.support.live_server import parse_log_line

OUTAGE_SECONDS = 10
ANSWER_WITHIN_SECONDS = 2.0
RECOVERY_DEADLINE_SECONDS = 15


def is_ready(instance: Instance) -> bool:
    try:
        return requests.get(instance.url("/readyz"), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def outage_answer_problems(sample: Sample) -> list[str]:
    """What is wrong with one answer given while the database was certainly down."""
    if sample.need is Need.MEMORY:
        return [] if sample.status == 200 else ["not 200 (answered from memory)"]
    if sample.surface is Surface.PROBE:
        return [] if sample.status == 503 else ["/readyz not 503 while the database is down"]
    if sample.status is not None and sample.status < 400:
        return []  # answered without the database (a page that needs none): all the better
    wrong = []
    if sample.status != 503:
        wrong.append("not 503")
    if sample.seconds > ANSWER_WITHIN_SECONDS:
        wrong.append(f"slower than {ANSWER_WITHIN_SECONDS}s")
    if sample.status == 503 and not sample.has_retry_after:
        wrong.append("no Retry-After")
    is_protocol = sample.surface is Surface.PROTOCOL
    if sample.status == 503 and is_protocol and sample.error_code != "temporarily_unavailable":
        wrong.append(f'error "{sample.error_code}", not "temporarily_unavailable"')
    if sample.status == 503 and sample.surface is Surface.PAGE and not sample.shows_request_id:
        wrong.append("the page does not show the request id")
    return wrong


def outage_log_problems(instance: Instance, lines_before: int) -> list[str]:
    """One WARNING when the outage starts and one INFO when it ends, per worker process (the
    lines carry no pid: up to WORKERS_PER_INSTANCE of each per instance), no traceback."""
    records = [parse_log_line(line) for line in instance.log().splitlines()[lines_before:]]
    own = [
        r
        for r in records
        if r and r.get("logger") not in ("authserver.request", "authserver.audit")
    ]
    warnings = [str(r.get("message")) for r in own if r.get("level") == "WARNING"]
    endings = [
        str(r.get("message")) for r in own
        if r.get("level") == "INFO" and "database" in str(r.get("message")).lower()
    ]  # fmt: skip
    problems = []
    if not 1 <= len(warnings) <= WORKERS_PER_INSTANCE:
        problems.append(
            f"{instance.name}: {len(warnings)} WARNING lines for the outage (want 1 per process, "
            f"at most {WORKERS_PER_INSTANCE}): {warnings[:3]}"
        )
    if not 1 <= len(endings) <= WORKERS_PER_INSTANCE:
        problems.append(
            f"{instance.name}: {len(endings)} INFO lines about the database after the outage "
            f"(want 1 per process): {endings[:3]}"
        )
    return problems


def test_postgres_restarted_under_load_answers_503_then_recovers_by_itself(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10 §1, "PostgreSQL restart or failover"), the cluster down ~10 s:
    no 500 at any time; while the database is down every request that needs it answers within
    2 s with 503 and Retry-After, in its surface's shape (token and introspection: JSON error
    "temporarily_unavailable"; pages: a page showing the request id); /readyz answers 503 for
    as long as the database is down; JWKS and discovery answer 200 throughout; each instance
    logs one WARNING when the outage starts and one INFO when it ends per process, and no
    error or traceback; both instances are ready again within 15 s of the database answering,
    without a restart, and serve every kind of request again; no refresh token is lost or left
    live beside its successor (a cut-off rotation either happened or did not).
    """
    recorder = Recorder()
    problems: list[str] = []
    with Load(system.balancer.base_url, system.credentials, recorder) as load:
        let_load_run(recorder, seconds=2, at_least=20)
        log_lines = [len(i.log().splitlines()) for i in system.instances]
        with postgres_outage() as outage:
            let_load_run(recorder, seconds=OUTAGE_SECONDS, at_least=20)
            outage.start()
        assert outage.start_requested_at is not None and outage.answering_at is not None
        try:
            ready_at = wait_for(
                lambda: all(is_ready(each) for each in system.instances),
                timeout=RECOVERY_DEADLINE_SECONDS,
                what="both instances ready again after PostgreSQL came back",
            )
        except AssertionError as exc:
            problems.append(str(exc))
            ready_at = time.monotonic()
        let_load_run(recorder, seconds=3, at_least=30)
    samples = recorder.samples()
    # "during": from the stop command until PostgreSQL answers again (its shutdown included).
    figures = measure(samples, (outage.stop_requested_at, outage.answering_at))
    figures["ready_again_seconds_after_database"] = round(ready_at - outage.answering_at, 2)
    summary = publish("postgres-restart", figures, figures_dir)

    problems += answered_500(samples)
    down = [s for s in samples
            if s.started >= outage.stopped_at and s.ended <= outage.start_requested_at]  # fmt: skip
    wrong = [(s, outage_answer_problems(s)) for s in down]
    wrong = [(s, reasons) for s, reasons in wrong if reasons]
    if wrong:
        kinds = sorted({f"{s.action}: {', '.join(r)}" for s, r in wrong})
        problems.append(f"{len(wrong)} of {len(down)} answers while the database was down were "
                        f"wrong: {kinds[:8]}; e.g. {listed([s for s, _ in wrong])}")  # fmt: skip
    memory = [s for s in samples if s.need is Need.MEMORY and s.status != 200]
    if memory:
        problems.append(f"JWKS/discovery not 200 {len(memory)} times: {listed(memory)}")
    after = [s for s in samples if s.started > ready_at and (s.status is None or s.status >= 500)]
    if after:
        problems.append(f"{len(after)} failures after recovery: {listed(after)}")
    problems += token_problems(system, load.visitors)
    for instance, lines_before in zip(system.instances, log_lines, strict=True):
        problems += log_problems(instance)
        problems += outage_log_problems(instance, lines_before)
    assert not problems, "\n".join([summary, *problems])


FRESH_CONNECTIONS_PER_INSTANCE = 20


def test_every_worker_answers_the_jwks_while_the_database_is_away_before_any_request_asked(
    system: Deployment,
) -> None:
    """The JWKS keeps answering from memory while the database is away (issue 10 §1, "JWKS and
    discovery answer 200 throughout"; docs/deploy.md). A worker that had not yet been asked for
    it has that memory too: verifiers that cannot fetch keys reject every token, so "no request
    had come to this process yet" must not turn into a 503.

    The deployment was made without a single JWKS request. Each request goes over a new
    connection, so each instance's workers share them (the kernel hands each to one of them)."""
    answers: list[tuple[str, int, bytes]] = []
    with postgres_outage() as outage:
        for instance in system.instances:
            for _ in range(FRESH_CONNECTIONS_PER_INSTANCE):
                response = requests.get(
                    instance.url("/.well-known/jwks.json"),
                    headers={"Connection": "close"},
                    timeout=ANSWER_WITHIN_SECONDS + 1,
                )
                answers.append((instance.name, response.status_code, response.content))
        outage.start()
    wait_for(
        lambda: all(is_ready(each) for each in system.instances),
        timeout=RECOVERY_DEADLINE_SECONDS,
        what="both instances ready again after PostgreSQL came back",
    )
    published = requests.get(system.instances[0].url("/.well-known/jwks.json"), timeout=5)
    assert published.status_code == 200
    wrong = sorted({(name, status) for name, status, body in answers
                    if status != 200 or body != published.content})  # fmt: skip
    assert not wrong, f"JWKS answers while the database was away that were not today's: {wrong}"
    for instance in system.instances:
        assert not log_problems(instance)

"""Scenario (c): one of the two instances is SIGKILLed under load."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.checks import (
    answered_500,
    let_load_run,
    listed,
    log_problems,
    token_problems,
)
from tests.faults.deployment import Deployment
from tests.faults.figures import measure, publish
from tests.faults.load import Load
from tests.faults.recorder import Recorder, Sample

AFTER_KILL_SECONDS = 8


def test_killing_an_instance_costs_only_the_requests_in_flight(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10, §1 and §3): no 500 at any time; the only requests that fail are
    those in flight on the killed instance when it died (cut: no answer); every other request,
    from the kill on, is answered by the other instance; no refresh token is lost (refused
    though never used) and none is left live beside its successor (a cut-off rotation either
    happened or did not); the surviving instance logs no error and no traceback.
    """
    recorder = Recorder()
    victim, survivor = system.instances
    with Load(system.balancer.base_url, system.credentials, recorder) as load:
        let_load_run(recorder, seconds=3, at_least=40)
        kill_started = time.monotonic()
        victim.kill()
        kill_ended = time.monotonic()
        let_load_run(recorder, seconds=AFTER_KILL_SECONDS, at_least=40)
    samples = recorder.samples()
    window = (kill_started, kill_ended + AFTER_KILL_SECONDS)
    summary = publish("instance-killed", measure(samples, window), figures_dir)

    def in_flight(sample: Sample) -> bool:
        return sample.started <= kill_ended and sample.ended >= kill_started

    unanswered = [s for s in samples if s.status is None]
    problems = answered_500(samples)
    beyond = [s for s in unanswered if not in_flight(s)]
    if beyond:
        problems.append(
            f"{len(beyond)} requests not in flight at the kill failed: {listed(beyond)}"
        )
    problems += token_problems(system, load.visitors)
    problems += log_problems(survivor)
    assert not problems, "\n".join([summary, *problems])

"""Scenario (e): 120 slow connections against one instance, with no proxy in front."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.faults.checks import listed
from tests.faults.deployment import Deployment
from tests.faults.figures import measure, publish
from tests.faults.recorder import Need, Recorder, Surface
from tests.faults.slow_clients import SlowClients

SLOW_CONNECTIONS = 120
PIECE_INTERVAL_SECONDS = 3
ATTACK_SECONDS = 20
PROBE_INTERVAL_SECONDS = 0.25
HEALTHZ_LIMIT_SECONDS = 1.0


def probe_healthz(recorder: Recorder, url: str, seconds: float) -> None:
    """GET /healthz every quarter second for `seconds`, each on a new connection."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with requests.Session() as http:
            recorder.send(http, "healthz", "GET", url, need=Need.MEMORY, surface=Surface.PROBE,
                          timeout=5)  # fmt: skip
        time.sleep(PROBE_INTERVAL_SECONDS)


def test_healthz_answers_within_a_second_while_120_slow_clients_are_connected(
    system: Deployment, figures_dir: Path
) -> None:
    """Pass criteria (issue 10 §1, "Slow clients"): while 120 connections send their headers a
    line every 3 s, or their body a byte every 3 s, against one instance with nothing in front,
    every GET /healthz (one every 0.25 s for 20 s) answers 200 within 1 s.
    """
    target = system.instances[0]
    recorder = Recorder()
    probe_healthz(recorder, target.url("/healthz"), 2)  # the figures before the attack
    with SlowClients(
        target.port, count=SLOW_CONNECTIONS, interval_seconds=PIECE_INTERVAL_SECONDS
    ) as attack:
        attack_started = time.monotonic()
        probe_healthz(recorder, target.url("/healthz"), ATTACK_SECONDS)
        attack_ended = time.monotonic()
        connected = attack.connected
    samples = recorder.samples()
    figures = measure(samples, (attack_started, attack_ended))
    figures["slow_connections"] = {
        "open_at_end": connected,
        "reopened_after_the_server_closed_them": attack.reconnects,
        "failed_connects": attack.failed_connects,
    }
    publish("slow-clients", figures, figures_dir)
    during = [s for s in samples if attack_started <= s.started <= attack_ended]
    late = [s for s in during if s.status != 200 or s.seconds > HEALTHZ_LIMIT_SECONDS]
    assert not late, (
        f"{len(late)} of {len(during)} /healthz probes under attack were not 200 within "
        f"{HEALTHZ_LIMIT_SECONDS}s (p99 {figures['during']['p99_ms']} ms, max "
        f"{figures['during']['max_ms']} ms): {listed(late)}"
    )

"""The issue 11 targets of `make bench` and the report's verdicts on them: each workload's
ratio to the ceiling it is measured against (framework, protocol ceiling, argon2 bound)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.run import RunResult, WorkloadResult
from bench.seeding import RegisteredClient
from bench.workloads import (
    FRAMEWORK,
    PROTOCOL_CC_ES256,
    PROTOCOL_CC_RS256,
    PROTOCOL_INTROSPECT,
    authserver_workloads,
    protocol_workloads,
)


def test_workloads_carry_the_issue_11_targets_and_ceilings() -> None:
    table = {
        w.key: (w.ceiling, w.target_for("sqlite"), w.target_for("postgresql"))
        for w in authserver_workloads()
    }

    assert table["cc-es256"] == (PROTOCOL_CC_ES256, 0.80, 0.65)
    assert table["cc-rs256"] == (PROTOCOL_CC_RS256, 0.80, 0.65)
    assert table["introspect-access"] == (PROTOCOL_INTROSPECT, 0.80, None)
    assert table["userinfo"] == (FRAMEWORK, 0.60, 0.60)
    assert table["refresh"] == table["code-exchange"] == (FRAMEWORK, 0.35, 0.35)
    assert table["jwks"] == table["discovery"] == (FRAMEWORK, 1.0, 1.0)
    assert table["sign-in"][1:] == (0.90, 0.90)


def measured(key: str, rate: float, *, backend: str = "sqlite") -> WorkloadResult:
    """A result as `make bench` records it, for the workload of that key."""
    ceiling_clients = {
        alg: RegisteredClient(f"ceiling-{alg}", "secret") for alg in ("ES256", "RS256")
    }
    workloads = {w.key: w for w in authserver_workloads()}
    workload = workloads.get(key)
    ceiling = {w.key: w for w in protocol_workloads(ceiling_clients)}.get(key)
    run = RunResult(
        rate=rate, successes=int(rate * 6), failures=0, seconds=6.0, p50_ms=1.0, p90_ms=2.0,
        p99_ms=3.0, server_cpu_cores=1.5, server_cpu_ms_per_success=0.5, client_cpu_cores=0.3,
        load_before=0.1,
    )  # fmt: skip
    return WorkloadResult(
        key=key,
        title=(workload or ceiling).title if workload or ceiling else "bare Flask app",
        backend=backend if workload else "none",
        server="gunicorn gevent",
        unit="req/s",
        ceiling=workload.ceiling if workload else FRAMEWORK,
        target=workload.target_for(backend) if workload else None,
        runs=[run],
        peak_rss_mib=80.0,
        rss_mib=70.0,
    )


def run_data() -> dict[str, Any]:
    results = [
        measured("cc-es256", 850.0),  # 85 % of 1000: met
        measured("cc-rs256", 300.0),  # 75 % of 400: missed
        measured("introspect-access", 1500.0),  # 75 % of 2000: missed
        measured("cc-es256", 700.0, backend="postgresql"),  # 70 % >= 65 %: met
        measured("introspect-access", 1000.0, backend="postgresql"),  # reported only
        measured("jwks", 4100.0),  # 102 % of the framework's 4000: met
    ]
    return {
        "facts": {
            "date": "2026-12-06T18:00:00+00:00",
            "cpu": "test",
            "cores": 2,
            "python": "3.11",
            "workers": 2,
            "server": "gunicorn gevent",
            "wrk": {"threads": 1, "connections": 16},
            "seconds": 6.0,
            "warmup_seconds": 2.0,
            "repeats": 1,
            "load_at_start": [0.1] * 3,
        },
        "ceilings": {
            "framework": asdict(measured("ceiling", 4000.0)),
            "protocol": {
                PROTOCOL_CC_ES256: asdict(measured(PROTOCOL_CC_ES256, 1000.0)),
                PROTOCOL_CC_RS256: asdict(measured(PROTOCOL_CC_RS256, 400.0)),
                PROTOCOL_INTROSPECT: asdict(measured(PROTOCOL_INTROSPECT, 2000.0)),
            },
            "signing_per_core": {"RS256": 1500.0, "ES256": 20000.0, "EdDSA": 30000.0},
            "argon2": {
                "one_process": 10.0,
                "all_workers": 19.0,
                "parameters": {"time_cost": 3, "memory_cost_kib": 65536, "parallelism": 4},
            },
        },
        "results": [asdict(result) for result in results],
        "server_comparison": [],
    }


def test_the_report_marks_each_target_met_or_missed_against_its_ceiling(tmp_path: Path) -> None:
    markdown, json_path = tmp_path / "BENCHMARKS.md", tmp_path / "BENCHMARKS.json"

    report.write(run_data(), markdown=markdown, json_path=json_path)

    written = json.loads(json_path.read_text())
    verdicts = {
        (r["key"], r["backend"]): (r["ratio"], r["meets_target"]) for r in written["results"]
    }
    assert verdicts == {
        ("cc-es256", "sqlite"): (pytest.approx(0.85), True),
        ("cc-rs256", "sqlite"): (pytest.approx(0.75), False),
        ("introspect-access", "sqlite"): (pytest.approx(0.75), False),
        ("cc-es256", "postgresql"): (pytest.approx(0.70), True),
        ("introspect-access", "postgresql"): (pytest.approx(0.50), None),
        ("jwks", "sqlite"): (pytest.approx(1.025), True),
    }
    sqlite, postgresql = rows(markdown, "## Results: SQLite"), rows(markdown, "## Results: Postg")
    assert (
        "| 85% of protocol ceiling (Authlib, ES256 client credentials) (1,000/s); 21% of "
        "framework | ≥ 80%: met |" in sqlite["cc-es256"]
    )
    assert sqlite["cc-rs256"].endswith("| ≥ 80%: **missed** |")
    assert "| 75% of protocol ceiling (Authlib, bare JWT verify)" in sqlite["introspect-access"]
    assert sqlite["jwks"].endswith("| 102% of framework | ≥ 100%: met |")
    assert postgresql["cc-es256"].endswith("| ≥ 65%: met |")
    assert postgresql["introspect-access"].endswith("| — |")
    ceiling_rows = rows(markdown, "## Ceilings (same run)")
    assert ceiling_rows["protocol-cc-rs256"].startswith(
        "| protocol-cc-rs256: bare Flask + Authlib: client credentials, RS256 access token, same "
        "gunicorn settings, no store | 400 (400-400) req/s"
    )


def rows(markdown: Path, heading: str) -> dict[str, str]:
    """The rows of the table under ``heading``, by workload key."""
    section = markdown.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    return {
        line.split(":")[0].strip("| "): line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| workload")
    }


def test_a_ceiling_left_out_of_the_run_gives_no_verdict(tmp_path: Path) -> None:
    data = run_data()
    del data["ceilings"]["protocol"][PROTOCOL_CC_RS256]
    markdown = tmp_path / "BENCHMARKS.md"

    report.write(data, markdown=markdown, json_path=tmp_path / "BENCHMARKS.json")

    rs256 = next(r for r in data["results"] if r["key"] == "cc-rs256")
    assert (rs256["ratio"], rs256["meets_target"]) == (None, None)
    assert "≥ 80%: ceiling not measured" in markdown.read_text()


def test_the_targets_table_in_the_docs_matches_the_workloads() -> None:
    """docs/performance.md lists each target beside its ceiling; the workloads are the truth."""
    docs = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
    table = docs.read_text().split("Targets (issue 11)", 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    documented = {
        key: target.strip() for keys, target, _ in rows for key in keys.strip().split(", ")
    }
    workloads = [w for w in authserver_workloads() if w.target is not None]

    assert documented.keys() == {w.key for w in workloads}
    for workload in workloads:
        for backend in ("sqlite", "postgresql"):
            target = workload.target_for(backend)
            if target is not None:
                assert f"≥ {target:.2f}" in documented[workload.key], workload.key

"""`make bench`: every workload against a real server, the ceilings, the server comparison.

The ceilings are measured first, in the same run: raw signatures and argon2id, the bare Flask
app (bench/ceiling_app.py) and the bare Flask + Authlib app (bench/protocol_ceiling_app.py).

    python -m bench [--seconds 6] [--only cc-es256,jwks] [--backends sqlite] [--profile jwks]

Each workload: one check request, a warm-up run, then ``--repeats`` measured runs of wrk at a
fixed concurrency. Per run the server's CPU comes from /proc (master and workers); after the
workload, the peak RSS of the largest worker. Results go to BENCHMARKS.md and BENCHMARKS.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from authserver.config import Settings
from bench import ceilings, databases, profiling, protocol_ceiling_app, report, seeding
from bench.procstats import cpu_seconds, load_average, machine_busy_seconds, worker_memory
from bench.servers import (
    GRANIAN,
    GUNICORN_GEVENT,
    GUNICORN_GTHREAD,
    GUNICORN_SYNC,
    PROJECT_ROOT,
    Instance,
    RunningServer,
    ServerKind,
    make_instance,
    serving,
)
from bench.workloads import (
    Context,
    Workload,
    authserver_workloads,
    ceiling_workload,
    protocol_workloads,
)
from bench.wrk import run_wrk

# Codes minted ahead of the exchange must outlive the minting and the run (default 60 s).
# Limits far above what a workload sends: the limiter's checks run (and cost what they cost in
# production), but one client or one IP sending thousands of requests a second is never refused.
UNREACHED_RATE_LIMIT = "10000000/minute"
BENCH_SETTINGS = {
    "AUTHSERVER_AUTH_CODE_TTL": "900",
    "AUTHSERVER_RATELIMIT_SIGNIN": UNREACHED_RATE_LIMIT,
    "AUTHSERVER_RATELIMIT_MFA": UNREACHED_RATE_LIMIT,
    "AUTHSERVER_RATELIMIT_RESET": UNREACHED_RATE_LIMIT,
    "AUTHSERVER_RATELIMIT_TOKEN": UNREACHED_RATE_LIMIT,
}
COMPARED_WORKLOADS = ("cc-es256", "jwks")
QUIET_LOAD = 0.5


@dataclass
class Options:
    seconds: float = 6.0
    warmup_seconds: float = 2.0
    repeats: int = 3
    connections: int = 16
    threads: int = 1
    only: tuple[str, ...] = ()
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    compare_servers: bool = True
    profile: tuple[str, ...] = ()
    markdown: Path = PROJECT_ROOT / "BENCHMARKS.md"
    json_path: Path = PROJECT_ROOT / "BENCHMARKS.json"


@dataclass
class RunResult:
    rate: float
    successes: int
    failures: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    server_cpu_cores: float
    server_cpu_ms_per_success: float | None
    client_cpu_cores: float
    load_before: float
    # CPU that neither the server nor wrk used during the run: other processes (and, on
    # PostgreSQL, the database server). The 1-min load average cannot tell: the benchmark's
    # own server and wrk keep it near 2.
    other_cpu_cores: float = 0.0


@dataclass
class WorkloadResult:
    key: str
    title: str
    backend: str
    server: str
    unit: str
    ceiling: str
    target: float | None
    runs: list[RunResult]
    peak_rss_mib: float
    rss_mib: float
    profile: str | None = None
    rate_median: float = field(init=False)
    rate_min: float = field(init=False)
    rate_max: float = field(init=False)
    p50_ms: float = field(init=False)
    p99_ms: float = field(init=False)
    server_cpu_cores: float = field(init=False)
    server_cpu_ms_per_success: float | None = field(init=False)

    def __post_init__(self) -> None:
        rates = [run.rate for run in self.runs]
        self.rate_median = statistics.median(rates)
        self.rate_min, self.rate_max = min(rates), max(rates)
        self.p50_ms = statistics.median(run.p50_ms for run in self.runs)
        self.p99_ms = statistics.median(run.p99_ms for run in self.runs)
        self.server_cpu_cores = statistics.median(run.server_cpu_cores for run in self.runs)
        per_success = [
            r.server_cpu_ms_per_success for r in self.runs if r.server_cpu_ms_per_success
        ]
        self.server_cpu_ms_per_success = statistics.median(per_success) if per_success else None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one_run(
    workload: Workload, ctx: Context, server: RunningServer, run: int, *, profile: bool = False
) -> RunResult:
    script, args = workload.prepare(ctx, run)
    # Started after the data is made, so the profile holds the measured requests only.
    recording = (
        profiling.start(server.pid, ctx.workdir / f"{workload.key}.raw", ctx.seconds)
        if profile
        else None
    )
    load = load_average()[0]
    server_cpu, client_cpu, started = cpu_seconds(server.pid), _children_cpu(), time.monotonic()
    machine_cpu = machine_busy_seconds()
    result = run_wrk(
        ctx.base_url, script, args, seconds=ctx.seconds, connections=ctx.connections,
        threads=ctx.threads,
    )  # fmt: skip
    wall = time.monotonic() - started
    server_cpu = cpu_seconds(server.pid) - server_cpu
    client_cpu = _children_cpu() - client_cpu
    machine_cpu = machine_busy_seconds() - machine_cpu
    if recording is not None:
        ctx.state["profile"] = profiling.finish(recording)
    successes = workload.successes(result)
    return RunResult(
        rate=successes / result.seconds,
        successes=successes,
        failures=result.failures,
        seconds=result.seconds,
        p50_ms=result.p50_us / 1000,
        p90_ms=result.p90_us / 1000,
        p99_ms=result.p99_us / 1000,
        server_cpu_cores=server_cpu / wall,
        server_cpu_ms_per_success=server_cpu * 1000 / successes if successes else None,
        client_cpu_cores=client_cpu / wall,
        load_before=load,
        other_cpu_cores=max(0.0, (machine_cpu - server_cpu - client_cpu) / wall),
    )


def _ran_out(workload: Workload, ctx: Context, result: RunResult) -> bool:
    """A single-use workload that sent all its codes stopped early: its rate is too low."""
    return workload.single_use and result.successes + result.failures >= ctx.state.get("codes", 0)


def measure(
    workload: Workload, ctx: Context, server: RunningServer, *, backend: str, options: Options
) -> WorkloadResult:
    print(f"  {workload.key:16}", end="", flush=True)
    if workload.check is not None:
        workload.check(ctx)
    configured_seconds = ctx.seconds
    try:
        return _measure_runs(workload, ctx, server, backend=backend, options=options)
    finally:
        ctx.seconds = configured_seconds


def _measure_runs(
    workload: Workload, ctx: Context, server: RunningServer, *, backend: str, options: Options
) -> WorkloadResult:
    warm_seconds = max(ctx.seconds, workload.min_seconds)
    ctx.seconds = max(ctx.warmup_seconds, workload.min_seconds)
    warm = _one_run(workload, ctx, server, 0)
    if warm.successes == 0 or warm.failures > warm.successes:
        # Most answers wrong (a limit, a seeding fault): numbers from here would be meaningless.
        raise RuntimeError(
            f"{workload.key}: {warm.successes} successes and {warm.failures} failures during "
            "the warm-up; see the server log"
        )
    ctx.seconds, ctx.last_rate = warm_seconds, warm.rate
    runs: list[RunResult] = []
    for run in range(1, options.repeats + 1):
        profile = workload.key in options.profile and run == 1
        result = _one_run(workload, ctx, server, run, profile=profile)
        for _ in range(2):
            if not _ran_out(workload, ctx, result):
                break
            ctx.last_rate = max(result.rate, ctx.last_rate or 0) * 2
            result = _one_run(workload, ctx, server, run, profile=profile)
        runs.append(result)
        ctx.last_rate = result.rate
        print(f" {result.rate:9.1f}", end="", flush=True)
    memory = worker_memory(server.pid)
    print(f"  {workload.unit}  p99 {statistics.median(r.p99_ms for r in runs):.1f} ms", flush=True)
    return WorkloadResult(
        key=workload.key,
        title=workload.title,
        backend=backend,
        server=server.kind.name,
        unit=workload.unit,
        ceiling=workload.ceiling,
        target=workload.target_for(backend),
        runs=runs,
        peak_rss_mib=memory.peak_rss_mib,
        rss_mib=memory.rss_mib,
        profile=ctx.state.get("profile"),
    )


def _context(server: RunningServer, seed: seeding.Seed | None, workdir: Path, options: Options,
             ) -> Context:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    return Context(
        base_url=server.base_url,
        seed=seed,  # type: ignore[arg-type]  # the ceiling app needs none
        workdir=workdir,
        seconds=options.seconds,
        warmup_seconds=options.warmup_seconds,
        connections=options.connections,
        threads=options.threads,
    )


def _selected(workloads: list[Workload], options: Options) -> list[Workload]:
    return [w for w in workloads if not options.only or w.key in options.only]


def framework_ceiling(
    instance: Instance, kind: ServerKind, workdir: Path, options: Options
) -> WorkloadResult:
    with serving(instance, kind, app="bench.ceiling_app:app") as server:
        ctx = _context(server, None, workdir / "ceiling", options)
        return measure(ceiling_workload(), ctx, server, backend="none", options=options)


PROTOCOL_CEILING_APP = "bench.protocol_ceiling_app:create_app()"


def protocol_ceiling(
    instance: Instance, kind: ServerKind, workdir: Path, options: Options
) -> dict[str, WorkloadResult]:
    """The bare Flask + Authlib app under the same server, on the same port and issuer, for the
    protocol ceilings the selected workloads are measured against (all of them by default)."""
    needed = {workload.ceiling for workload in _selected(authserver_workloads(), options)}
    config = protocol_ceiling_app.make_config(
        issuer=instance.base_url,
        scope=seeding.API_SCOPE,
        lifetime_seconds=Settings().access_token_ttl,
    )
    clients = {
        entry["alg"]: seeding.RegisteredClient(entry["client_id"], entry["client_secret"])
        for entry in config["clients"]
    }
    workloads = [w for w in protocol_workloads(clients) if w.key in needed]
    if not workloads:
        return {}
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "protocol-ceiling.json"
    protocol_ceiling_app.write_config(config_path, config)
    extra_env = {protocol_ceiling_app.CONFIG_ENV: str(config_path)}
    results = {}
    with serving(instance, kind, app=PROTOCOL_CEILING_APP, extra_env=extra_env) as server:
        for workload in workloads:
            ctx = _context(server, None, workdir / workload.key, options)
            results[workload.key] = measure(workload, ctx, server, backend="none", options=options)
    return results


@contextmanager
def seeded_server(
    instance: Instance, kind: ServerKind = GUNICORN_GEVENT
) -> Iterator[tuple[RunningServer, seeding.Seed]]:
    with serving(instance, kind) as server:
        seed = seeding.Seed(*instance.state["clients"], seeding.sign_in(server.base_url))
        yield server, seed


def seed_instance(instance: Instance) -> None:
    instance.state["clients"] = seeding.seed_accounts(instance)


def run_backend(
    backend: str, instance: Instance, workdir: Path, options: Options
) -> list[WorkloadResult]:
    workers = instance.env.get("AUTHSERVER_WORKERS", "2")
    print(f"{backend}: {GUNICORN_GEVENT.name}, {workers} workers")
    results = []
    with seeded_server(instance) as (server, seed):
        for workload in _selected(authserver_workloads(), options):
            ctx = _context(server, seed, workdir / backend / workload.key, options)
            results.append(measure(workload, ctx, server, backend=backend, options=options))
    return results


def compare_servers(instance: Instance, workdir: Path, options: Options) -> list[WorkloadResult]:
    """gunicorn sync and gthread and granian (WSGI) on the token and JWKS workloads, plus their
    own framework ceiling (gunicorn gevent, `serve`'s default, is the main run)."""
    results = []
    for kind in (GUNICORN_SYNC, GUNICORN_GTHREAD, GRANIAN):
        print(f"server comparison: {kind.name}")
        results.append(framework_ceiling(instance, kind, workdir / kind.name, options))
        with seeded_server(instance, kind) as (server, seed):
            for workload in authserver_workloads():
                if workload.key in COMPARED_WORKLOADS:
                    ctx = _context(server, seed, workdir / kind.name / workload.key, options)
                    results.append(
                        measure(workload, ctx, server, backend="sqlite", options=options)
                    )
    return results


def environment_facts(options: Options) -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "workers": int(os.environ.get("AUTHSERVER_WORKERS", "2")),
        "server": GUNICORN_GEVENT.name,
        "wrk": {"threads": options.threads, "connections": options.connections},
        "seconds": options.seconds,
        "warmup_seconds": options.warmup_seconds,
        "repeats": options.repeats,
        "load_at_start": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    facts = environment_facts(options)
    if facts["load_at_start"][0] > QUIET_LOAD:
        print(f"warning: load average {facts['load_at_start'][0]:.2f} > {QUIET_LOAD}: the "
              "machine is busy, absolute numbers will be low (ratios hold up better)")  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="authserver-bench-"))
    started = time.monotonic()
    try:
        data = run_everything(options, facts, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data["facts"]["total_seconds"] = round(time.monotonic() - started)
    data["facts"]["load_at_end"] = load_average()
    report.write(data, markdown=options.markdown, json_path=options.json_path)
    print(f"wrote {options.markdown} and {options.json_path} in {data['facts']['total_seconds']} s")
    return 0


def run_everything(options: Options, facts: dict[str, Any], workdir: Path) -> dict[str, Any]:
    print("ceilings: signing and argon2id")
    signing = ceilings.signing_rates()
    argon2 = ceilings.argon2_rates(facts["workers"])
    sqlite = make_instance(workdir / "sqlite", **BENCH_SETTINGS)
    seed_instance(sqlite)
    print(f"framework ceiling: bare Flask app under {GUNICORN_GEVENT.name}")
    framework = framework_ceiling(sqlite, GUNICORN_GEVENT, workdir, options)
    print(f"protocol ceiling: bare Flask + Authlib app under {GUNICORN_GEVENT.name}")
    protocol = protocol_ceiling(sqlite, GUNICORN_GEVENT, workdir / "protocol", options)
    results = []
    if "sqlite" in options.backends:
        results += run_backend("sqlite", sqlite, workdir, options)
    if "postgresql" in options.backends and databases.postgres_server_url():
        with databases.fresh_postgres_database() as url:
            settings = {**BENCH_SETTINGS, "AUTHSERVER_DATABASE_URL": url}
            if databases.redis_url():
                settings["AUTHSERVER_REDIS_URL"] = databases.redis_url() or ""
            postgres = make_instance(workdir / "postgresql", **settings)
            seed_instance(postgres)
            results += run_backend("postgresql", postgres, workdir, options)
    comparison = compare_servers(sqlite, workdir, options) if options.compare_servers else []
    return {
        "facts": facts,
        "ceilings": {
            "framework": asdict(framework),
            "protocol": {key: asdict(result) for key, result in protocol.items()},
            "signing_per_core": signing,
            "argon2": {**argon2, "parameters": ceilings.argon2_parameters()},
        },
        "results": [asdict(result) for result in results],
        "server_comparison": [asdict(result) for result in comparison],
    }


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    defaults = Options()
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--warmup", type=float, default=defaults.warmup_seconds)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--only", default="", help="comma-separated workload keys")
    parser.add_argument("--backends", default=",".join(defaults.backends))
    parser.add_argument("--no-server-comparison", action="store_true")
    parser.add_argument("--profile", default="", help="workload keys to profile with py-spy")
    parser.add_argument("--markdown", type=Path, default=defaults.markdown)
    parser.add_argument("--json", type=Path, default=defaults.json_path)
    parsed = parser.parse_args(argv)

    def keys(raw: str) -> tuple[str, ...]:
        return tuple(part for part in raw.split(",") if part)

    return Options(
        seconds=parsed.seconds,
        warmup_seconds=parsed.warmup,
        repeats=parsed.repeats,
        connections=parsed.connections,
        only=keys(parsed.only),
        backends=keys(parsed.backends),
        compare_servers=not parsed.no_server_comparison,
        profile=keys(parsed.profile),
        markdown=parsed.markdown,
        json_path=parsed.json,
    )


if __name__ == "__main__":
    sys.exit(main())

"""`make bench-growth`: does the server stay as fast with 10^6 rows as with 10^3? (issue 6)

    python -m bench.growth [--scale 1000000] [--small 1000] [--seconds 6]

On a fresh PostgreSQL database of its own (AUTHSERVER_TEST_DATABASE_URL), the same instance is
measured twice: with --small users, refresh tokens (with their families) and audit rows, then
with --scale of each. The rows are made by the database itself, a batch at a time
(INSERT ... SELECT over generate_series), not one CLI call or one statement per row. The
workloads are refresh, introspection (access and refresh token) and sign-in; the target is a
p99 at --scale within 1.2x of the p99 at --small, with flat worker memory. EXPLAIN of the hot
queries shows whether any of them scans.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from bench import databases, report
from bench.ceilings import configured_hash_parameters
from bench.procstats import load_average
from bench.run import (
    BENCH_SETTINGS,
    Options,
    WorkloadResult,
    _context,
    measure,
    seed_instance,
    seeded_server,
)
from bench.servers import PROJECT_ROOT, Instance, make_instance
from bench.workloads import authserver_workloads

GROWTH_WORKLOADS = ("refresh", "introspect-access", "introspect-refresh", "sign-in")
P99_TARGET = 1.2
BATCH_ROWS = 100_000
GROWTH_JSON = PROJECT_ROOT / "BENCHMARKS-growth.json"
AUDIT_EVENTS = ("user:login:success", "user:login:failure", "token:refresh-reuse:failure")

# Hot queries of the measured workloads, as the server sends them (parameters filled in).
HOT_QUERIES = {
    "refresh token by hash (refresh, introspection)":
        "SELECT * FROM refresh_tokens WHERE token_hash = %(hash)s",
    "refresh family, locked (refresh)":
        "SELECT * FROM refresh_families WHERE id = %(family)s FOR UPDATE",
    "user by e-mail (sign-in)": "SELECT * FROM users WHERE email = %(email)s",
    "user by subject (introspection, userinfo)": "SELECT * FROM users WHERE subject = %(subject)s",
    "deny list (introspection)":
        "SELECT id FROM revoked_access_tokens WHERE (kind = 'jti' AND value = %(jti)s) "
        "OR (kind = 'grant' AND value = %(family)s) LIMIT 1",
    "audit rows of a user (account page, later)":
        "SELECT * FROM audit_events WHERE user_subject = %(subject)s "
        "ORDER BY occurred_at DESC LIMIT 20",
}  # fmt: skip


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _count(connection: psycopg.Connection[Any], table: str) -> int:
    row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def grow(url: str, rows: int) -> float:
    """Add users, refresh families + tokens and audit rows until each table has ``rows``."""
    started = time.monotonic()
    password_hash = PasswordHasher.from_parameters(configured_hash_parameters()).hash(
        "growth password 1"
    )
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        web_client = connection.execute("SELECT max(id) FROM clients").fetchone()
        first_user = connection.execute("SELECT min(id) FROM users").fetchone()
        assert web_client and first_user
        for table, insert in (
            ("users", _INSERT_USERS),
            ("refresh_families", _INSERT_FAMILIES),
            ("refresh_tokens", _INSERT_TOKENS),
            ("audit_events", _INSERT_AUDIT),
        ):
            have = _count(connection, table)
            for start in range(have, rows, BATCH_ROWS):
                end = min(rows, start + BATCH_ROWS) - 1
                connection.execute(
                    insert,
                    {
                        "start": start,
                        "end": end,
                        "hash": password_hash,
                        "client": web_client[0],
                        "first_user": first_user[0],
                        "users": max(1, min(rows, _count(connection, "users"))),
                        "events": list(AUDIT_EVENTS),
                    },
                )
        # What autovacuum would do soon after a bulk load: planner statistics for the new size.
        connection.execute("ANALYZE")
    return time.monotonic() - started


# Each batch is one statement; the database generates the rows. Every value is unique where the
# schema says so (e-mail, subject, token hash, family id).
_INSERT_USERS = """
INSERT INTO users (subject, email, name, password_hash, is_disabled, created_at, updated_at)
SELECT gen_random_uuid()::text, 'user' || i || '@growth.example', 'Growth ' || i, %(hash)s,
       false, now(), now()
FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS i
"""
_INSERT_FAMILIES = """
INSERT INTO refresh_families (id, client_pk, user_id, created_at)
SELECT md5('family' || i)::uuid::text, %(client)s, %(first_user)s + (i %% %(users)s), now()
FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS i
"""
_INSERT_TOKENS = """
INSERT INTO refresh_tokens (token_hash, family_id, client_pk, user_id, scope, auth_time, acr,
                            amr, created_at, expires_at, idle_expires_at)
SELECT encode(sha256(('growth-token-' || i)::bytea), 'hex'), md5('family' || i)::uuid::text,
       %(client)s, %(first_user)s + (i %% %(users)s), 'openid offline_access', now(),
       'urn:authserver:acr:pwd', '["pwd"]', now(), now() + interval '30 days',
       now() + interval '7 days'
FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS i
WHERE EXISTS (SELECT 1 FROM refresh_families WHERE id = md5('family' || i)::uuid::text)
"""
_INSERT_AUDIT = """
INSERT INTO audit_events (occurred_at, event, outcome, user_subject, client_id, ip, detail)
SELECT now() - (i || ' seconds')::interval, (%(events)s::text[])[1 + i %% 3],
       CASE WHEN i %% 3 = 0 THEN 'success' ELSE 'failure' END,
       md5('subject' || (i %% 1000))::uuid::text, NULL, '127.0.0.1', '{}'
FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS i
"""


def explain_hot_queries(url: str) -> dict[str, str]:
    """The plan of each hot query at the current size (EXPLAIN, not run)."""
    plans = {}
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        sample = connection.execute(
            "SELECT t.token_hash, t.family_id, u.email, u.subject FROM refresh_tokens t "
            "JOIN users u ON u.id = t.user_id ORDER BY t.id DESC LIMIT 1"
        ).fetchone()
        assert sample is not None
        params = {"hash": sample[0], "family": sample[1], "email": sample[2],
                  "subject": sample[3], "jti": "x" * 22}  # fmt: skip
        for name, query in HOT_QUERIES.items():
            rows = connection.execute("EXPLAIN " + query, params).fetchall()  # type: ignore[arg-type]
            # The scan nodes say it: "Index Scan using ..." or "Seq Scan on ...".
            scans = [str(row[0]).split("  (cost")[0].strip(" ->") for row in rows]
            plans[name] = " / ".join(line for line in scans if "Scan" in line)
    return plans


def measure_growth(
    instance: Instance, workdir: Path, options: Options, label: str
) -> list[WorkloadResult]:
    results = []
    with seeded_server(instance) as (server, seed):
        for workload in authserver_workloads():
            if workload.key in GROWTH_WORKLOADS:
                ctx = _context(server, seed, workdir / label / workload.key, options)
                results.append(measure(workload, ctx, server, backend=label, options=options))
    return results


def run_growth(small: int, scale: int, options: Options) -> dict[str, Any]:
    """One instance (its secrets sign and seal everything), measured at each size in turn."""
    workdir = Path(tempfile.mkdtemp(prefix="authserver-growth-"))
    data: dict[str, Any] = {"small": small, "scale": scale, "load_at_start": load_average()}
    phases = []
    try:
        with databases.fresh_postgres_database("authserver_growth") as url:
            instance = make_instance(workdir, **BENCH_SETTINGS, AUTHSERVER_DATABASE_URL=url)
            seed_instance(instance)
            for rows in (small, scale):
                seconds = grow(url, rows)
                print(f"{rows} rows per table: seeded in {seconds:.1f} s", flush=True)
                results = measure_growth(instance, workdir, options, f"{rows} rows")
                phases.append({"rows": rows, "seed_seconds": seconds, "results": results})
            data["plans"] = explain_hot_queries(url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data["phases"] = [
        {**phase, "results": [asdict(result) for result in phase["results"]]} for phase in phases
    ]
    data["comparison"] = compare(data["phases"][0]["results"], data["phases"][1]["results"])
    data["load_at_end"] = load_average()
    return data


def compare(small: list[dict[str, Any]], large: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for before, after in zip(small, large, strict=True):
        ratio = after["p99_ms"] / before["p99_ms"] if before["p99_ms"] else None
        rows.append(
            {
                "key": before["key"],
                "p99_small_ms": before["p99_ms"],
                "p99_large_ms": after["p99_ms"],
                "p99_ratio": ratio,
                "rate_small": before["rate_median"],
                "rate_large": after["rate_median"],
                "peak_rss_small_mib": before["peak_rss_mib"],
                "peak_rss_large_mib": after["peak_rss_mib"],
                "meets_target": ratio is not None and ratio <= P99_TARGET,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", type=Path, default=GROWTH_JSON)
    parsed = parser.parse_args(argv)
    if databases.postgres_server_url() is None:
        print(f"{databases.POSTGRES_ENV} must name a PostgreSQL server", file=sys.stderr)
        return 2
    options = Options(seconds=parsed.seconds, backends=("postgresql",))
    started = time.monotonic()
    data = run_growth(parsed.small, parsed.scale, options)
    data["total_seconds"] = round(time.monotonic() - started)
    parsed.json.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    for row in data["comparison"]:
        verdict = "met" if row["meets_target"] else "MISSED"
        ratio = f"{row['p99_ratio']:.2f}x" if row["p99_ratio"] is not None else "no p99"
        print(f"{row['key']:20} p99 {row['p99_small_ms']:.1f} -> {row['p99_large_ms']:.1f} ms "
              f"({ratio}, {verdict}); peak RSS {row['peak_rss_small_mib']:.0f} -> "
              f"{row['peak_rss_large_mib']:.0f} MiB")  # fmt: skip
    report.refresh_markdown()
    print(f"wrote {parsed.json} in {data['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

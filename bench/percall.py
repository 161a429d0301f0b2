"""CPU per request of the token-path endpoints, measured in-process (no server, no socket).

    python -m bench.percall cc-es256                 # one workload, 2000 requests
    python -m bench.percall all -n 3000              # every workload
    python -m bench.percall cc-es256 --profile 30    # plus cProfile's 30 costliest frames

It builds the app as the tests do (``tests/support/settings.py``) on a freshly migrated SQLite
file (or ``--database-url``/``--redis-url``), seeds a user and the bench's three clients through
the services, and sends each request through the Flask test client. Each request is timed with
``time.process_time`` (CPU of this process only: the database server's CPU on PostgreSQL is not
in it), so the figure does not depend on what else the machine runs, unlike wrk's rates.
Logging is on at INFO in JSON, as in production, written to /dev/null; rate limits are the
bench's (far above what a run sends, so the limiter's checks run but never refuse).

What it leaves out, compared with `make bench`: gunicorn, the socket and the request parsing
from the wire (the framework ceiling's share). Compare the figures before and after a change on
the same machine; ratios between endpoints hold up, absolute numbers move with the CPU.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import hashlib
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.test import TestResponse

from authserver import create_app
from authserver.accounts.lifecycle import create_user
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.oauth.clients import ClientRegistration, register_client
from bench import ceiling_app
from tests.support.oauth import csrf_token
from tests.support.settings import make_test_settings

# The same limits as `make bench` (bench/run.py): checked on every request, never reached.
UNREACHED_RATE_LIMIT = "10000000/minute"
EMAIL = "percall@example.org"
PASSWORD = "purple tractor sings at dawn"
REDIRECT_URI = "http://127.0.0.1:9/callback"
CODE_VERIFIER = "percall-verifier-" + "v" * 43
WEB_SCOPE = "openid profile email offline_access"
API_SCOPE = "api:read"
WARMUP_REQUESTS = 100
FORM = "application/x-www-form-urlencoded"

# One request of a workload: sends it and returns the response (checked by the caller).
Send = Callable[[], TestResponse]


@dataclass(frozen=True)
class Basic:
    client_id: str
    secret: str

    @property
    def header(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Bench:
    """A seeded app and the clients, tokens and browser a workload needs."""

    app: Flask
    http: FlaskClient  # no cookies: API traffic
    browser: FlaskClient  # signed in, for minting codes
    cc_es256: Basic
    cc_rs256: Basic
    web: Basic


@dataclass(frozen=True)
class Result:
    key: str
    cpu_us: list[float]
    wall_us: list[float]

    def line(self) -> str:
        cpu, wall = sorted(self.cpu_us), sorted(self.wall_us)
        p90 = cpu[int(len(cpu) * 0.9)]
        return (
            f"{self.key:18} n={len(cpu):5}  CPU/request: median {statistics.median(cpu):7.0f} µs"
            f"  mean {statistics.fmean(cpu):7.0f} µs  p90 {p90:7.0f} µs"
            f"  | wall median {statistics.median(wall):7.0f} µs"
        )


# --- set-up -------------------------------------------------------------------------------------


def build_app(workdir: Path, database_url: str | None, redis_url: str | None) -> Flask:
    overrides: dict[str, Any] = {  # Any: Settings fields of several types
        "log_level": "INFO",
        "log_format": "json",
        "auth_code_ttl": 900,  # codes minted up front must outlive the run
        **{f"ratelimit_{group}": UNREACHED_RATE_LIMIT for group in ("signin", "mfa", "reset")},
        "ratelimit_token": UNREACHED_RATE_LIMIT,
    }
    if redis_url:
        overrides["redis_url"] = redis_url
    url = database_url or f"sqlite:///{workdir / 'percall.sqlite3'}"
    return create_app(make_test_settings(workdir, database_url=url, **overrides))


def seed(app: Flask) -> Bench:
    with app.app_context():
        upgrade()
        ensure_active_keys(now=datetime.now(UTC))
        email = (
            EMAIL
            if app.config.get("SQLALCHEMY_DATABASE_URI", "").startswith("sqlite")
            else (f"percall-{os.getpid()}-{time.time_ns()}@example.org")
        )
        create_user(email, PASSWORD, name="Per Call")
        service = {"grant_types": ("client_credentials",), "scope": API_SCOPE}
        es256 = _register(name="percall ES256", access_token_signed_response_alg="ES256", **service)
        rs256 = _register(name="percall RS256", access_token_signed_response_alg="RS256", **service)
        web = _register(
            name="percall web",
            redirect_uris=(REDIRECT_URI,),
            grant_types=("authorization_code", "refresh_token"),
            scope=WEB_SCOPE,
            skip_consent=True,
            id_token_signed_response_alg="ES256",
            access_token_signed_response_alg="ES256",
        )
        db.session.remove()
    browser = app.test_client()
    _sign_in(browser, email)
    return Bench(app, app.test_client(use_cookies=False), browser, es256, rs256, web)


def _register(**fields: Any) -> Basic:  # Any: ClientRegistration's fields
    client, secret = register_client(ClientRegistration(**fields))
    assert secret is not None
    return Basic(client.client_id, secret)


def _sign_in(browser: FlaskClient, email: str) -> None:
    csrf = csrf_token(browser.get("/login"))
    reply = browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert reply.status_code == 303, f"sign-in failed: {reply.status_code}"


def _challenge() -> str:
    digest = hashlib.sha256(CODE_VERIFIER.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def mint_codes(bench: Bench, count: int) -> list[str]:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": bench.web.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": WEB_SCOPE,
            "state": "s",
            "nonce": "n",
            "code_challenge": _challenge(),
            "code_challenge_method": "S256",
        }
    )
    codes = []
    for _ in range(count):
        reply = bench.browser.get("/oauth/authorize?" + query)
        assert reply.status_code == 302, f"authorize: {reply.status_code} {reply.text[:200]}"
        codes.append(parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0])
    return codes


def _exchange(bench: Bench, code: str) -> TestResponse:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": CODE_VERIFIER,
    }
    return bench.http.post("/oauth/token", data=form, headers=bench.web.header)


def user_tokens(bench: Bench) -> dict[str, Any]:  # Any: the JSON token response
    reply = _exchange(bench, mint_codes(bench, 1)[0])
    assert reply.status_code == 200, reply.text
    tokens: dict[str, Any] = reply.json or {}
    return tokens


# --- workloads ------------------------------------------------------------------------------------


def client_credentials(client: Callable[[Bench], Basic]) -> Callable[[Bench, int], Send]:
    def prepare(bench: Bench, _count: int) -> Send:
        headers = client(bench).header
        form = {"grant_type": "client_credentials"}
        return lambda: bench.http.post("/oauth/token", data=form, headers=headers)

    return prepare


def code_exchange(bench: Bench, count: int) -> Send:
    codes = iter(mint_codes(bench, count))
    return lambda: _exchange(bench, next(codes))


def refresh(bench: Bench, _count: int) -> Send:
    state = {"token": user_tokens(bench)["refresh_token"]}

    def send() -> TestResponse:
        form = {"grant_type": "refresh_token", "refresh_token": state["token"]}
        reply = bench.http.post("/oauth/token", data=form, headers=bench.web.header)
        if reply.status_code == 200 and reply.json:
            state["token"] = reply.json["refresh_token"]  # chained, like the wrk workload
        return reply

    return send


def introspect_access(bench: Bench, _count: int) -> Send:
    form = {"token": user_tokens(bench)["access_token"], "token_type_hint": "access_token"}
    headers = bench.web.header  # RFC 7662 §4: the token's own client may introspect it
    return lambda: bench.http.post("/oauth/introspect", data=form, headers=headers)


def userinfo(bench: Bench, _count: int) -> Send:
    headers = {"Authorization": "Bearer " + user_tokens(bench)["access_token"]}
    return lambda: bench.http.get("/oauth/userinfo", headers=headers)


def published(path: str) -> Callable[[Bench, int], Send]:
    def prepare(bench: Bench, _count: int) -> Send:
        return lambda: bench.http.get(path)

    return prepare


def framework(_bench: Bench, _count: int) -> Send:
    """The framework ceiling's app (bench/ceiling_app.py): what Flask alone costs per request."""
    bare = ceiling_app.app.test_client()
    return lambda: bare.get("/ceiling")


WORKLOADS: dict[str, Callable[[Bench, int], Send]] = {
    "framework": framework,
    "jwks": published("/.well-known/jwks.json"),
    # A query string sends it past edges/public_documents.py's copy: Flask's own path.
    "jwks-through-flask": published("/.well-known/jwks.json?through-flask"),
    "discovery": published("/.well-known/openid-configuration"),
    "cc-es256": client_credentials(lambda bench: bench.cc_es256),
    "cc-rs256": client_credentials(lambda bench: bench.cc_rs256),
    "introspect-access": introspect_access,
    "userinfo": userinfo,
    "refresh": refresh,
    "code-exchange": code_exchange,
}


# --- measuring ------------------------------------------------------------------------------------


@contextlib.contextmanager
def logs_discarded() -> Iterator[TextIO]:
    """The log handler writes to whatever sys.stdout is; results go to the real one."""
    real = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield real
        finally:
            sys.stdout = real


def measure(bench: Bench, key: str, count: int, profile_lines: int) -> Result:
    send = WORKLOADS[key](bench, count + WARMUP_REQUESTS)
    for _ in range(WARMUP_REQUESTS):
        _check(key, send())
    profiler = cProfile.Profile() if profile_lines else None
    cpu_us: list[float] = []
    wall_us: list[float] = []
    for _ in range(count):
        if profiler is not None:
            profiler.enable()
        cpu, wall = time.process_time_ns(), time.perf_counter_ns()
        reply = send()
        wall_us.append((time.perf_counter_ns() - wall) / 1000)
        cpu_us.append((time.process_time_ns() - cpu) / 1000)
        if profiler is not None:
            profiler.disable()
        _check(key, reply)
    if profiler is not None:
        _print_profile(profiler, profile_lines)
    return Result(key, cpu_us, wall_us)


def _check(key: str, reply: TestResponse) -> None:
    if reply.status_code != 200:
        raise SystemExit(f"{key}: expected 200, got {reply.status_code}: {reply.text[:300]}")


def _print_profile(profiler: cProfile.Profile, lines: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(lines)
    print(out.getvalue(), file=sys.__stdout__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.percall", description=__doc__)
    parser.add_argument("workloads", nargs="+", help=f"all, or any of: {', '.join(WORKLOADS)}")
    parser.add_argument("-n", "--requests", type=int, default=2000, help="measured requests")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="LINES", help="print cProfile's costliest frames"
    )
    parser.add_argument("--database-url", help="a migrated or empty database (default: SQLite)")
    parser.add_argument("--redis-url", help="rate-limit counters in Redis")
    args = parser.parse_args(argv)
    keys = list(WORKLOADS) if args.workloads == ["all"] else args.workloads
    unknown = [key for key in keys if key not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="percall-") as workdir, logs_discarded() as out:
        bench = seed(build_app(Path(workdir), args.database_url, args.redis_url))
        for key in keys:
            print(measure(bench, key, args.requests, args.profile).line(), file=out, flush=True)
        with bench.app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A bounded, seeded fuzzer: malformed requests get no 5xx and put no live secret in the log.

Issue 10 ("Done when"): 10^5 fuzzed requests answer no 5xx. Two parts:

* in-process, through the Flask test client: AUTHSERVER_TEST_FUZZ_REQUESTS requests (10^5 by
  default, in two shards that `make test-faults` runs in two processes), a mix over every
  route (tests/fuzz/generate.py), sent by an anonymous browser, a signed-in one and one
  half-way through MFA, after real secrets were minted (a client secret, an authorization
  code, access, refresh and ID tokens, a session cookie, a CSRF token, a password, live reset,
  verification and unlock links);
* against a live `authserver serve`, over raw sockets: AUTHSERVER_TEST_FUZZ_LIVE_REQUESTS (3000)
  requests, many of them things only a server sees (broken request lines, chunked framing,
  header syntax, Host values clients refuse to send).

Every answer must be below 500 and (in-process) carry X-Request-ID and nosniff; every log line
must be below ERROR, without a traceback, and hold none of the live secrets.

Replaying: a failure prints the seed and the request numbers. Request ``i`` is built from the
seed and ``i`` alone, so AUTHSERVER_TEST_FUZZ_SEED=<seed> AUTHSERVER_TEST_FUZZ_ONLY=<i>,<j>
re-sends just those (after the same set-up).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wsgi import get_current_url

from authserver import create_app
from authserver.accounts.email_verification import issue_email_verification
from authserver.accounts.lifecycle import find_user_by_email
from authserver.accounts.password_reset import request_password_reset
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models.types import utcnow
from authserver.observability.logging import JsonFormatter, ProcessStreamHandler
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import IsolatedClient
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.fuzz.generate import FuzzRequest, Generator, LiveSecrets
from tests.support.live_server import LiveServer, live_server
from tests.support.mfa import enrol
from tests.support.oauth import Pkce, exchange_code, make_relying_party, obtain_code
from tests.support.settings import make_test_settings
from tests.support.web import csrf_token, sign_in

REQUESTS = int(os.environ.get("AUTHSERVER_TEST_FUZZ_REQUESTS", "100000"))
LIVE_REQUESTS = int(os.environ.get("AUTHSERVER_TEST_FUZZ_LIVE_REQUESTS", "3000"))
SEED = int(os.environ.get("AUTHSERVER_TEST_FUZZ_SEED", "20261206"))
ONLY = [int(i) for i in os.environ.get("AUTHSERVER_TEST_FUZZ_ONLY", "").split(",") if i]
# The in-process requests are sent by this many tests (each on an app of its own), one in
# SHARDS requests each; together they send all of them.
SHARDS = 2
# Limits no fuzzed request should reach: a 429 would stop the rest from testing anything.
NO_LIMIT = "10000000/minute"
SIGNED_IN_EMAIL = "fuzz-signed-in@example.org"
MFA_EMAIL = "fuzz-mfa@example.org"
LINK_EMAIL = "fuzz-links@example.org"
LOCKED_EMAIL = "fuzz-locked@example.org"
MAX_REPORTED = 25
SOCKET_TIMEOUT_SECONDS = 10


# --- what the run records ------------------------------------------------------------------------


class LineCollector(logging.Handler):
    """Every log line of the run, formatted and redacted as production writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Findings:
    seed: int
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def add(self, index: int, request: FuzzRequest | str, problem: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            shown = request if isinstance(request, str) else request.describe()
            self.problems.append(f"#{index}: {problem}\n    {shown}")

    def report(self, sent: int, seconds: float) -> str:
        return (
            f"seed {self.seed}: {sent} requests in {seconds:.1f}s ({sent / seconds:.0f}/s), "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )

    def fail_if_any(self, part: str) -> None:
        if self.problem_count:
            indexes = ",".join(p.split(":")[0].lstrip("#") for p in self.problems)
            pytest.fail(
                f"{part}: {self.problem_count} problems (seed {self.seed}); replay with "
                f"AUTHSERVER_TEST_FUZZ_SEED={self.seed} AUTHSERVER_TEST_FUZZ_ONLY={indexes}\n"
                + "\n".join(self.problems),
                pytrace=False,
            )


def log_problem(line: str, secrets: list[str]) -> str | None:
    if '"level": "ERROR"' in line or '"level": "CRITICAL"' in line:
        return f"logged an error: {line[:400]}"
    if '"exception": ' in line:
        return f"logged a traceback: {line[:400]}"
    for secret in secrets:
        if secret in line:
            return f"a live secret reached the log: {line[:400]}"
    return None


# --- in-process ----------------------------------------------------------------------------------


@dataclass
class Stage:
    app: Flask
    secrets: LiveSecrets
    browsers: dict[str, FlaskClient]
    routes: list[str]


@pytest.fixture
def stage(tmp_path: Path, migrated_dbs: dict[str, str]) -> Iterator[Stage]:
    """An app on a fresh SQLite copy (the fuzzer tests input handling, not storage), with
    real secrets minted through the services and the pages, and three browsers."""
    database = tmp_path / "fuzz.sqlite3"
    shutil.copyfile(migrated_dbs["sqlite"].removeprefix("sqlite:///"), database)
    settings = make_test_settings(
        tmp_path,
        database_url=f"sqlite:///{database}",
        log_level="INFO",
        mail_backend="file",
        mail_file_dir=str(tmp_path / "mail"),
        ratelimit_signin=NO_LIMIT,
        ratelimit_mfa=NO_LIMIT,
        ratelimit_reset=NO_LIMIT,
        ratelimit_token=NO_LIMIT,
        ratelimit_csp_report=NO_LIMIT,
    )
    app = create_app(settings)
    app.test_client_class = IsolatedClient
    with app.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        for email in (SIGNED_IN_EMAIL, MFA_EMAIL, LINK_EMAIL, LOCKED_EMAIL):
            make_user(email)
        yield _mint(app, tmp_path / "mail")
        db.session.remove()
        db.engine.dispose()


def _mint(app: Flask, mail_dir: Path) -> Stage:
    by_name: dict[str, str] = {"password": DEFAULT_PASSWORD}
    signed_in = app.test_client()
    assert sign_in(signed_in, SIGNED_IN_EMAIL, DEFAULT_PASSWORD).status_code == 303
    rp = make_relying_party()
    pkce = Pkce()
    code = obtain_code(signed_in, rp, pkce)
    tokens = exchange_code(signed_in, rp, code, pkce).json
    by_name.update(
        {
            "client secret": rp.secret or "",
            "authorization code": code,
            "access token": tokens["access_token"],
            "refresh token": tokens["refresh_token"],
            "id token": tokens["id_token"],
            "csrf token": csrf_token(signed_in.get("/account").text),
        }
    )
    cookie = signed_in.get_cookie(COOKIE_NAME)
    assert cookie is not None
    by_name["session cookie"] = cookie.value

    enrolling = app.test_client()
    assert sign_in(enrolling, MFA_EMAIL, DEFAULT_PASSWORD).status_code == 303
    enrol(enrolling)
    mfa_pending = app.test_client()
    assert sign_in(mfa_pending, MFA_EMAIL, DEFAULT_PASSWORD).headers["Location"].startswith("/mfa")

    now = utcnow()
    reset_mail = request_password_reset(LINK_EMAIL, now=now)
    assert reset_mail is not None
    link_user = find_user_by_email(LINK_EMAIL)
    assert link_user is not None
    verify_mail = issue_email_verification(link_user, now=now)
    db.session.commit()
    link_tokens = {
        "/reset/": _token_in(reset_mail.body, "/reset/"),
        "/verify-email/": _token_in(verify_mail.body, "/verify-email/"),
        "/unlock/": _unlock_token(app, mail_dir),
    }
    secrets = LiveSecrets(by_name=by_name, link_tokens=link_tokens, client_id=rp.client_id)
    browsers = {
        "anonymous": app.test_client(use_cookies=False),
        "signed in": signed_in,
        "mfa pending": mfa_pending,
    }
    return Stage(app, secrets, browsers, _routes(app, link_tokens))


def _mail_texts(mail_dir: Path) -> list[str]:
    texts = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode(errors="replace"))
    return texts


def _token_in(text: str, prefix: str) -> str:
    match = re.search(re.escape(prefix) + r"([A-Za-z0-9_\-]{20,})", text)
    assert match, f"no {prefix} link in the mail"
    return match[1]


def _unlock_token(app: Flask, mail_dir: Path) -> str:
    """Lock an account the way an attacker would; the owner's notice holds the unlock link."""
    attacker = app.test_client()
    for _ in range(30):
        sign_in(attacker, LOCKED_EMAIL, "not the password").close()  # mail goes after it
        for text in _mail_texts(mail_dir):
            if "/unlock/" in text:
                return _token_in(text, "/unlock/")
    pytest.fail("no unlock link was mailed after 30 failed sign-ins")


def _routes(app: Flask, link_tokens: dict[str, str]) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if "<token>" in path:
            prefix = path.split("<token>")[0]
            path = path.replace("<token>", link_tokens.get(prefix, "t" * 43))
        path = re.sub(r"<path:filename>", "style.css", path)
        routes.append(re.sub(r"<[^>]+>", "x", path))
    return sorted(set(routes))


def _latin1(value: str) -> str:
    """What a server hands the app for a header sent as UTF-8 bytes (WSGI: latin-1 strings)."""
    return value.encode("utf-8", "replace").decode("latin-1")


@cache
def client_can_address(host: str) -> bool:
    """Whether the test client's own cookie code can build a URL with this Host (the app can
    take any; Werkzeug's client decodes it as IDNA first, and "xn--.example" fails there)."""
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": host, "SCRIPT_NAME": "", "PATH_INFO": "/"}
    try:
        get_current_url(environ)
    except (UnicodeError, ValueError):
        return False
    return True


def send(stage: Stage, request: FuzzRequest) -> tuple[int, Headers]:
    builder = EnvironBuilder(
        path=request.path,
        method=request.method,
        query_string=request.query.decode("latin-1"),  # as WSGI hands it over
        headers=[(name, _latin1(value)) for name, value in request.headers],
        data=request.body,
    )
    try:
        host = dict(request.headers).get("Host", "localhost")
        if client_can_address(_latin1(host)):
            response = stage.browsers[request.persona].open(builder)
            status, headers = response.status_code, response.headers
            response.close()
            return status, headers
        # Without the browser's cookies: straight to the app, as a server would hand it over.
        chunks, status_line, raw_headers = run_wsgi_app(stage.app, builder.get_environ(), True)
        getattr(chunks, "close", lambda: None)()
        return int(status_line.split()[0]), raw_headers
    finally:
        builder.close()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzzed_requests_get_no_5xx_and_leak_no_secret(stage: Stage, shard: int) -> None:
    """Shard ``shard`` of the requests: every SHARDS-th, so pytest-xdist can spread them over
    the cores (`make test-faults`); request ``i`` is the same whichever shard sends it."""
    generator = Generator(SEED, stage.routes, stage.secrets)
    secrets = stage.secrets.values()
    findings = Findings(SEED)
    collector = LineCollector()
    root = logging.getLogger()
    # The run's 10^5 lines are read here, not written out (pytest would keep them all).
    writers = [handler for handler in root.handlers if isinstance(handler, ProcessStreamHandler)]
    for writer in writers:
        root.removeHandler(writer)
    root.addHandler(collector)
    indexes = [i for i in ONLY if i % SHARDS == shard] if ONLY else range(shard, REQUESTS, SHARDS)
    started = time.perf_counter()
    try:
        for index in indexes:
            request = generator.request(index)
            seen = len(collector.lines)
            try:
                status, headers = send(stage, request)
            except Exception as error:  # the test client re-raises what escaped the app
                findings.add(index, request, f"raised {error!r}")
                continue
            findings.statuses[status] += 1
            if status >= 500:
                findings.add(index, request, f"answered {status}")
            if "X-Request-ID" not in headers or "X-Content-Type-Options" not in headers:
                findings.add(index, request, f"{status} without our headers: {headers}")
            for line in collector.lines[seen:]:
                problem = log_problem(line, secrets)
                if problem:
                    findings.add(index, request, problem)
            del collector.lines[:]
    finally:
        root.removeHandler(collector)
        for writer in writers:
            root.addHandler(writer)
    seconds = time.perf_counter() - started
    print("\nin-process fuzz:", findings.report(len(indexes), seconds))
    findings.fail_if_any("in-process fuzz")


# --- live server, raw sockets --------------------------------------------------------------------

SERVER_LEVEL = [
    # Request lines and framing a client library would never send.
    lambda path, host: f"GET {path}\r\nHost: {host}\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.1 extra\r\nHost: {host}\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/9.9\r\nHost: {host}\r\n\r\n".encode(),
    lambda path, host: f"G\x00ET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX: a\r\n folded\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.1\r\nHost: {host}\r\nBad Header: x\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.1\r\nHost: {host}\r\nHost: evil\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.0\r\n\r\n".encode(),
    lambda path, host: f"GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
    lambda path, host: (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\na=b\r\n0\r\n\r\n"
    ).encode(),
    lambda path, host: (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n3\r\na=bXX\r\n0\r\n\r\n"
    ).encode(),
    lambda path, host: (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ).encode(),
    lambda path, host: (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1\r\n\r\n"
    ).encode(),
    lambda path, host: (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n\r\nabc"
    ).encode(),
    lambda path, host: f"GET {path} HTTP/1.1\r\nHost: {'a' * 64}.example\r\n\r\n".encode(),
    lambda path, host: f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX: {'y' * 9000}\r\n\r\n".encode(),
]


def raw_bytes(request: FuzzRequest) -> bytes:
    """The generator's request as bytes on the wire, Host and all as it chose them."""
    query = "?" + request.query.decode("latin-1") if request.query else ""
    lines = [f"{request.method} {request.path}{query} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    lines += [f"Content-Length: {len(request.body)}", "Connection: close"]
    return "\r\n".join(lines).encode("utf-8", "replace") + b"\r\n\r\n" + request.body


def exchange(server: LiveServer, data: bytes) -> int | None:
    """Send ``data``; the status code, or None when the server closed without an answer."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), SOCKET_TIMEOUT_SECONDS) as raw:
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (and close) before reading all of a bad request
        received = b""
        while chunk := raw.recv(4096):
            received += chunk
            if (status := _final_status(received)) is not None:
                return status  # no need to wait for the rest (or for a keep-alive to end)
    return None


_STATUS_LINE = re.compile(rb"(?:^|\r\n)HTTP/\d\.\d (\d{3})")


def _final_status(received: bytes) -> int | None:
    """The first status that is not an interim one (100 Continue comes before the answer)."""
    for match in _STATUS_LINE.finditer(received):
        if int(match[1]) >= 200:
            return int(match[1])
    return None


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveSecrets]]:
    workdir = tmp_path_factory.mktemp("fuzz-live")
    mail_dir = workdir / "mail"
    with live_server(
        workdir,
        AUTHSERVER_MAIL_BACKEND="file",
        AUTHSERVER_MAIL_FILE_DIR=str(mail_dir),
        AUTHSERVER_RATELIMIT_SIGNIN=NO_LIMIT,
        AUTHSERVER_RATELIMIT_RESET=NO_LIMIT,
        AUTHSERVER_RATELIMIT_TOKEN=NO_LIMIT,
        AUTHSERVER_RATELIMIT_CSP_REPORT=NO_LIMIT,
    ) as server:
        server.cli("user", "create", LINK_EMAIL, "--password-stdin", stdin=DEFAULT_PASSWORD + "\n")
        client = server.cli_json(
            "client", "create", "--name", "fuzz", "--redirect-uri", "https://rp.example.com/cb"
        )
        with requests.Session() as browser:  # ask for a reset link as a person would
            page = browser.get(server.url("/reset"), timeout=SOCKET_TIMEOUT_SECONDS)
            form = {"csrf_token": csrf_token(page.text), "email": LINK_EMAIL}
            browser.post(server.url("/reset"), data=form, timeout=SOCKET_TIMEOUT_SECONDS)
        deadline = time.monotonic() + 10
        while not any("/reset/" in text for text in _mail_texts(mail_dir)):
            assert time.monotonic() < deadline, "no reset mail within 10 s"
            time.sleep(0.1)  # the mail is written after the response (mail.send_after_response)
        texts = _mail_texts(mail_dir)
        links = {
            prefix: _token_in(text, prefix)
            for prefix in ("/reset/", "/verify-email/")
            for text in texts
            if prefix in text
        }
        secrets = LiveSecrets(
            by_name={
                "password": DEFAULT_PASSWORD,
                "client secret": client["client_secret"],
            },
            link_tokens=links,
            client_id=client["client_id"],
        )
        yield server, secrets


@pytest.mark.e2e
def test_fuzzed_raw_requests_to_a_live_server_get_no_5xx(
    live: tuple[LiveServer, LiveSecrets],
) -> None:
    server, secrets = live
    host = urlsplit(server.base_url).netloc
    routes = ["/login", "/reset", "/oauth/token", "/oauth/authorize", "/healthz", "/csp-report",
              "/.well-known/openid-configuration", "/account", "/mfa"]  # fmt: skip
    generator = Generator(SEED, routes, secrets)
    findings = Findings(SEED)
    indexes = ONLY or range(LIVE_REQUESTS)
    started = time.perf_counter()
    for index in indexes:
        request = generator.request(index)
        if index % 3 == 0:  # one in three: what only a server sees
            data = SERVER_LEVEL[index // 3 % len(SERVER_LEVEL)](request.path, host)
            description = repr(data[:300])
        else:
            data = raw_bytes(request)
            description = request.describe()
        try:
            status = exchange(server, data)
        except OSError as error:
            findings.add(index, description, f"connection failed: {error!r}")
            continue
        findings.statuses[status or 0] += 1
        if status is not None and status >= 500:
            findings.add(index, description, f"answered {status}")
    seconds = time.perf_counter() - started
    print("\nlive fuzz:", findings.report(len(indexes), seconds))
    for number, line in enumerate(server.log().splitlines(), start=1):
        problem = log_problem(line, secrets.values())
        if problem:
            findings.add(number, f"server log line {number}", problem)
    findings.fail_if_any("live fuzz")

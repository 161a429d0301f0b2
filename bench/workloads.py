"""The workloads of issue 6: what each one sends, how its data is made, and its target.

Targets are issue 11's: each one a fraction of the ceiling named beside it, measured in the
same run (client credentials and access-token introspection against the protocol ceiling,
bench/protocol_ceiling_app.py; sign-in against the argon2 bound; the rest against the
framework ceiling, bench/ceiling_app.py).

A workload prepares the data for each run (run 0 is the warm-up) and returns the Lua script
and its arguments. ``check`` sends one request first and fails loudly if the answer is not the
one the workload is meant to measure: a fast stream of 401s is not a benchmark.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bench import seeding
from bench.http import Client, Reply
from bench.seeding import FORM, Seed
from bench.wrk import WrkResult, write_spec

FRAMEWORK = "framework"
RS256_SIGNING = "rs256"  # issue 6's ceiling for RS256 tokens; kept to render older results
ARGON2 = "argon2"
# The protocol ceilings: each is the rate of the workload of that key on the bare Flask +
# Authlib app (protocol_workloads below).
PROTOCOL_CC_ES256 = "protocol-cc-es256"
PROTOCOL_CC_RS256 = "protocol-cc-rs256"
PROTOCOL_INTROSPECT = "protocol-introspect"
PROTOCOL_CEILINGS = (PROTOCOL_CC_ES256, PROTOCOL_CC_RS256, PROTOCOL_INTROSPECT)
# Issue 11: client credentials may lose more to the database round trips on PostgreSQL.
CLIENT_CREDENTIALS_TARGETS = {"sqlite": 0.80, "postgresql": 0.65}


@dataclass
class Context:
    """One server under load, with its seed and a folder for this workload's files."""

    base_url: str
    seed: Seed
    workdir: Path
    seconds: float
    warmup_seconds: float
    connections: int
    threads: int
    # Filled in by the runner after each run: successes per second of the last one.
    last_rate: float | None = None
    state: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[Context, int], tuple[str, list[str]]]
Check = Callable[[Context], None]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    ceiling: str  # FRAMEWORK, ARGON2 or one of PROTOCOL_CEILINGS
    # The ratio to the ceiling issue 11 asks for: one for every backend, or per backend (a
    # backend missing from the mapping is reported only); None: reported only.
    target: float | Mapping[str, float] | None
    prepare: Prepare
    check: Check | None = None
    unit: str = "req/s"
    # Code exchange: a run that used up its codes stopped sending early (see exhausted()).
    single_use: bool = False
    # Warm-up and runs last at least this long. A full flow needs a few seconds before its first
    # completion (every connection starts at step one and waits for its argon2 turn), so a short
    # run counts mostly ramp-up: a 2 s warm-up completed no flow at all.
    min_seconds: float = 0.0

    def successes(self, result: WrkResult) -> int:
        return result.flows if self.unit == "flows/s" else result.successes

    def target_for(self, backend: str) -> float | None:
        if isinstance(self.target, Mapping):
            return self.target.get(backend)
        return self.target


def _expect(reply: Reply, status: int, what: str) -> None:
    if reply.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {reply.status}: {reply.text[:300]}")


def _get(ctx: Context, path: str, headers: dict[str, str] | None = None) -> Reply:
    client = Client(ctx.base_url)
    try:
        return client.request("GET", path, headers=headers)
    finally:
        client.close()


def _post(ctx: Context, path: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
    client = Client(ctx.base_url)
    try:
        return client.request("POST", path, headers=headers, form=form)
    finally:
        client.close()


def _static(ctx: Context, name: str, method: str, target: str, headers: dict[str, str],
            body: str = "") -> tuple[str, list[str]]:  # fmt: skip
    spec = write_spec(ctx.workdir / f"{name}.spec", method, target, headers, body)
    return "static.lua", [str(spec)]


def _jwt_header(token: str) -> dict[str, Any]:
    encoded = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    )
    return decoded


# --- the framework ceiling -----------------------------------------------------------------------


def ceiling_workload() -> Workload:
    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        return _static(ctx, "ceiling", "GET", "/ceiling", {})

    def check(ctx: Context) -> None:
        _expect(_get(ctx, "/ceiling"), 200, "ceiling app")

    return Workload("ceiling", "bare Flask app, constant JSON", FRAMEWORK, None, prepare, check)


# --- client credentials --------------------------------------------------------------------------


ClientOf = Callable[[Context], seeding.RegisteredClient]


def _client_credentials_requests(alg: str, client: ClientOf) -> tuple[Prepare, Check]:
    """One fixed token request, the same for authserver and the protocol ceiling."""

    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        headers = {"Authorization": client(ctx).basic, "Content-Type": FORM}
        return _static(
            ctx, f"cc-{alg}", "POST", "/oauth/token", headers, "grant_type=client_credentials"
        )

    def check(ctx: Context) -> None:
        _issue_access_token(ctx, client(ctx), alg)

    return prepare, check


def _issue_access_token(ctx: Context, client: seeding.RegisteredClient, alg: str) -> str:
    reply = _post(ctx, "/oauth/token", {"grant_type": "client_credentials"},
                  {"Authorization": client.basic})  # fmt: skip
    _expect(reply, 200, f"client credentials {alg}")
    token: str = json.loads(reply.body)["access_token"]
    header = _jwt_header(token)
    if header["alg"] != alg:
        raise RuntimeError(f"expected an {alg} access token, got {header['alg']}")
    return token


def client_credentials(alg: str) -> Workload:
    def client(ctx: Context) -> seeding.RegisteredClient:
        return ctx.seed.cc_es256 if alg == "ES256" else ctx.seed.cc_rs256

    prepare, check = _client_credentials_requests(alg, client)
    key = f"cc-{alg.lower()}"
    ceiling = PROTOCOL_CC_ES256 if alg == "ES256" else PROTOCOL_CC_RS256
    return Workload(key, f"client credentials, {alg} access token", ceiling,
                    CLIENT_CREDENTIALS_TARGETS, prepare, check)  # fmt: skip


# --- authorization code exchange -----------------------------------------------------------------

CODE_BODY = (
    "grant_type=authorization_code&code={code}&redirect_uri="
    + quote(seeding.REDIRECT_URI, safe="")
    + "&code_verifier="
    + seeding.CODE_VERIFIER
)
# Codes minted per run: the expected count times this, so a run never runs out.
CODE_MARGIN = 2.0
WARMUP_CODES_PER_SECOND = 150


def code_exchange() -> Workload:
    def prepare(ctx: Context, run: int) -> tuple[str, list[str]]:
        if run == 0 or ctx.last_rate is None:
            count = int(WARMUP_CODES_PER_SECOND * ctx.warmup_seconds)
        else:
            count = math.ceil(ctx.last_rate * ctx.seconds * CODE_MARGIN)
        count = max(count, ctx.connections * 4)
        codes = seeding.mint_codes(ctx.base_url, ctx.seed, ctx.workdir, count)
        ctx.state["codes"] = len(codes)
        seeding.split_per_thread(ctx.workdir / "codes", codes, ctx.threads)
        spec = seeding.token_request_spec(ctx.workdir / "code.spec", ctx.seed.web, CODE_BODY)
        return "code_exchange.lua", [str(spec), str(ctx.workdir / "codes")]

    def check(ctx: Context) -> None:
        code = seeding.mint_codes(ctx.base_url, ctx.seed, ctx.workdir, 1)[0]
        tokens = seeding.exchange_code(ctx.base_url, ctx.seed.web, code)
        if not {"access_token", "id_token", "refresh_token"} <= tokens.keys():
            raise RuntimeError(f"code exchange answered {sorted(tokens)}")

    return Workload("code-exchange", "authorization code exchange (ES256 access + ID token, "
                    "refresh token)", FRAMEWORK, 0.35, prepare, check, single_use=True)  # fmt: skip


# --- refresh rotation ----------------------------------------------------------------------------

REFRESH_TOKENS_PER_CONNECTION = 3


def refresh() -> Workload:
    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        count = ctx.connections * REFRESH_TOKENS_PER_CONNECTION
        tokens = seeding.user_tokens(ctx.base_url, ctx.seed, ctx.workdir, count)
        seeding.split_per_thread(ctx.workdir / "refresh", [t["refresh_token"] for t in tokens],
                                 ctx.threads)  # fmt: skip
        body = "grant_type=refresh_token&refresh_token={token}"
        spec = seeding.token_request_spec(ctx.workdir / "refresh.spec", ctx.seed.web, body)
        return "refresh.lua", [str(spec), str(ctx.workdir / "refresh")]

    return Workload("refresh", "refresh token rotation (chained; ES256 access + ID token)",
                    FRAMEWORK, 0.35, prepare)  # fmt: skip


# --- introspection and userinfo ------------------------------------------------------------------


def _user_token(ctx: Context) -> dict[str, Any]:
    if "tokens" not in ctx.state:
        ctx.state["tokens"] = seeding.user_tokens(ctx.base_url, ctx.seed, ctx.workdir, 1)[0]
    tokens: dict[str, Any] = ctx.state["tokens"]
    return tokens


def introspection(kind: str) -> Workload:
    def request(ctx: Context) -> tuple[dict[str, str], dict[str, str]]:
        tokens = _user_token(ctx)
        # RFC 7662 §4: the client a token was issued to may introspect it (a resource server
        # may too, for tokens of its API; the same checks, in the same order).
        token_kind = f"{kind}_token"
        form = {"token": tokens[token_kind], "token_type_hint": token_kind}
        return {"Authorization": ctx.seed.web.basic}, form

    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        headers, form = request(ctx)
        body = urlencode(form)
        return _static(ctx, f"introspect-{kind}", "POST", "/oauth/introspect",
                       {**headers, "Content-Type": FORM}, body)  # fmt: skip

    def check(ctx: Context) -> None:
        headers, form = request(ctx)
        reply = _post(ctx, "/oauth/introspect", form, headers)
        _expect(reply, 200, f"introspection of a {kind} token")
        if json.loads(reply.body).get("active") is not True:
            raise RuntimeError(f"the {kind} token is not active: {reply.text[:300]}")

    title = f"introspection of {'an' if kind == 'access' else 'a'} {kind} token"
    if kind == "access":
        # Issue 11: against the bare verify, on SQLite; on PostgreSQL reported only.
        return Workload(f"introspect-{kind}", title, PROTOCOL_INTROSPECT, {"sqlite": 0.80},
                        prepare, check)  # fmt: skip
    # Issue 11 sets no target for refresh tokens (a database look-up); issue 6's stands.
    return Workload(f"introspect-{kind}", title, FRAMEWORK, 0.50, prepare, check)


def userinfo() -> Workload:
    def headers(ctx: Context) -> dict[str, str]:
        return {"Authorization": "Bearer " + _user_token(ctx)["access_token"]}

    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        return _static(ctx, "userinfo", "GET", "/oauth/userinfo", headers(ctx))

    def check(ctx: Context) -> None:
        reply = _get(ctx, "/oauth/userinfo", headers(ctx))
        _expect(reply, 200, "userinfo")
        if "email" not in json.loads(reply.body):
            raise RuntimeError(f"userinfo without email: {reply.text[:300]}")

    return Workload("userinfo", "userinfo (GET, bearer access token)", FRAMEWORK, 0.60,
                    prepare, check)  # fmt: skip


# --- JWKS and discovery --------------------------------------------------------------------------


def published_document(key: str, path: str, title: str) -> Workload:
    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        return _static(ctx, key, "GET", path, {})

    def check(ctx: Context) -> None:
        """Precomputed bytes with a strong ETag and Cache-Control, and 304 on If-None-Match."""
        first = _get(ctx, path)
        _expect(first, 200, title)
        etag, cache_control = first.headers.get("ETag"), first.headers.get("Cache-Control")
        if not etag or etag.startswith("W/") or not cache_control or "max-age" not in cache_control:
            raise RuntimeError(f"{title}: ETag {etag!r}, Cache-Control {cache_control!r}")
        _expect(_get(ctx, path, {"If-None-Match": etag}), 304, f"{title} with If-None-Match")

    return Workload(key, title, FRAMEWORK, 1.0, prepare, check)


# --- sign-in -------------------------------------------------------------------------------------

# Runs of the workloads bound by argon2 last at least this long (see sign_in and full_flow).
ARGON2_RUN_SECONDS = 15.0


def sign_in() -> Workload:
    def form(ctx: Context) -> tuple[str, str]:
        if "login_form" not in ctx.state:
            ctx.state["login_form"] = seeding.login_form(ctx.base_url)
        cookie, csrf = ctx.state["login_form"]
        return cookie, csrf

    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        # One fetched form serves every request: its CSRF token is bound to the Flask session
        # cookie, not single-use, so the load is the POST alone (argon2 and a new session).
        cookie, csrf = form(ctx)
        fields = urlencode({"password": seeding.PASSWORD, "csrf_token": csrf, "next": "/"})
        headers = {"Cookie": cookie, "Content-Type": FORM}
        body = "email={email}&" + fields  # sign_in.lua puts each account's address in
        spec = write_spec(ctx.workdir / "sign-in.spec", "POST", "/login", headers, body)
        accounts = seeding.split_per_thread(
            ctx.workdir / "accounts", seeding.sign_in_emails(), ctx.threads
        )
        return "sign_in.lua", [str(spec), str(accounts)]

    def check(ctx: Context) -> None:
        cookie, csrf = form(ctx)
        fields = {"email": seeding.sign_in_emails()[0], "password": seeding.PASSWORD,
                  "csrf_token": csrf, "next": "/"}  # fmt: skip
        _expect(_post(ctx, "/login", fields, {"Cookie": cookie}), 303, "sign-in POST")

    # A sign-in waits about 1.5 s for its argon2 turn under this load, so a 6 s run would lose
    # a third of its count to the requests still in flight when wrk stops: 58 % of the bound
    # with 6 s runs, 93 % with 20 s ones on the same machine.
    return Workload("sign-in", "sign-in POST (argon2id verification, new session)", ARGON2, 0.90,
                    prepare, check, min_seconds=ARGON2_RUN_SECONDS)  # fmt: skip


# --- the whole code flow -------------------------------------------------------------------------


def full_flow() -> Workload:
    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        config = ctx.workdir / "flow.config"
        config.touch(mode=0o600)
        values = {
            "authorize_query": seeding.authorize_query(ctx.seed.web, seeding.FLOW_SCOPE),
            "accounts": seeding.split_per_thread(
                ctx.workdir / "accounts", seeding.sign_in_emails(), ctx.threads
            ),
            "password": seeding.PASSWORD,
            "authorization": ctx.seed.web.basic,
            "redirect_uri": seeding.REDIRECT_URI,
            "code_verifier": seeding.CODE_VERIFIER,
        }
        config.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
        return "full_flow.lua", [str(config)]

    return Workload("full-flow", "browser-less code flow: authorize, sign-in page, sign-in POST, "
                    "authorize, token", ARGON2, None, prepare, unit="flows/s",
                    min_seconds=ARGON2_RUN_SECONDS)  # fmt: skip


def authserver_workloads() -> list[Workload]:
    return [
        client_credentials("ES256"),
        client_credentials("RS256"),
        code_exchange(),
        refresh(),
        introspection("access"),
        introspection("refresh"),
        userinfo(),
        published_document("jwks", "/.well-known/jwks.json", "JWKS"),
        published_document("discovery", "/.well-known/openid-configuration", "discovery"),
        sign_in(),
        full_flow(),
    ]


# --- the protocol ceiling ------------------------------------------------------------------------

# Each check request opens its own connection, so these reach more than one worker in all
# likelihood: a worker that had made a key of its own would answer "active": false and be caught
# before load starts (static.lua counts any 200 as a success).
PROTOCOL_CHECKS = 8


def protocol_workloads(clients: Mapping[str, seeding.RegisteredClient]) -> list[Workload]:
    """The requests of cc-es256, cc-rs256 and introspect-access, sent to the bare Flask +
    Authlib app (bench/protocol_ceiling_app.py) with its clients (``clients`` by algorithm)."""

    def client_for(alg: str) -> ClientOf:
        return lambda _ctx: clients[alg]

    workloads = []
    for alg, key in (("ES256", PROTOCOL_CC_ES256), ("RS256", PROTOCOL_CC_RS256)):
        prepare, check = _client_credentials_requests(alg, client_for(alg))
        title = f"bare Flask + Authlib: client credentials, {alg} access token"
        workloads.append(Workload(key, title, FRAMEWORK, None, prepare, check))
    workloads.append(_protocol_introspection(clients["ES256"]))
    return workloads


def _protocol_introspection(client: seeding.RegisteredClient) -> Workload:
    """A resource server introspects an ES256 access token the app issued (as introspect-access
    does with a user's ES256 token): the JWT is verified, nothing is looked up."""

    def form(ctx: Context) -> dict[str, str]:
        if "token" not in ctx.state:
            ctx.state["token"] = _issue_access_token(ctx, client, "ES256")
        return {"token": ctx.state["token"], "token_type_hint": "access_token"}

    def prepare(ctx: Context, _run: int) -> tuple[str, list[str]]:
        return _static(ctx, "protocol-introspect", "POST", "/oauth/introspect",
                       {"Authorization": client.basic, "Content-Type": FORM},
                       urlencode(form(ctx)))  # fmt: skip

    def check(ctx: Context) -> None:
        for _ in range(PROTOCOL_CHECKS):
            reply = _post(ctx, "/oauth/introspect", form(ctx), {"Authorization": client.basic})
            _expect(reply, 200, "protocol ceiling introspection")
            if json.loads(reply.body).get("active") is not True:
                raise RuntimeError(f"the ceiling's own token is not active: {reply.text[:300]}")

    return Workload(PROTOCOL_INTROSPECT, "bare Flask + Authlib: introspection of an access "
                    "token (JWT verify only)", FRAMEWORK, None, prepare, check)  # fmt: skip

"""Seeding a bench instance the way an operator and a browser would.

Accounts and clients are made with the CLI (`authserver user create`, `authserver client
create --json`). Codes, refresh tokens and access tokens come from the real flow over HTTP:
sign in once, then ask /oauth/authorize of a skip-consent client (wrk does that in bulk).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.http import Client, csrf_token
from bench.servers import Instance
from bench.wrk import run_wrk, write_spec

EMAIL = "bench@example.org"
# Sign-in load is spread over these (bench/lua/sign_in.lua): as many as wrk's connections by
# default, so the lockout never sees one account guessed at from every connection at once.
SIGN_IN_ACCOUNTS = 16
PASSWORD = "purple tractor sings at dawn"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # nothing listens there; only the code matters
WEB_SCOPE = "openid profile email offline_access"
FLOW_SCOPE = "openid profile email"
API_SCOPE = "api:read"
# One PKCE pair for every code: the server stores a challenge per code, so this costs nothing
# it would not cost with a fresh pair, and the Lua scripts need no SHA-256.
CODE_VERIFIER = "bench-verifier-" + "v" * 43
MINT_SECONDS_LIMIT = 600
MINT_ROUND_LIMIT_SECONDS = 60
MINT_RATE_GUESS = 100.0
MINT_CONNECTIONS = 8
FORM = "application/x-www-form-urlencoded"


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str

    @property
    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Seed:
    """What the workloads need; made once per instance."""

    cc_es256: RegisteredClient
    cc_rs256: RegisteredClient
    web: RegisteredClient  # skip consent, refresh tokens, ES256 ID and access tokens
    session_cookie: str  # "authserver_session=..." of a signed-in browser


def create_user(instance: Instance, email: str = EMAIL, password: str = PASSWORD) -> None:
    instance.cli("user", "create", email, "--password-stdin", "--json", stdin=password + "\n")


def sign_in_emails() -> list[str]:
    return [f"bench-sign-in-{number}@example.org" for number in range(SIGN_IN_ACCOUNTS)]


def create_client(instance: Instance, *options: str) -> RegisteredClient:
    described: dict[str, Any] = json.loads(instance.cli("client", "create", *options, "--json"))
    return RegisteredClient(described["client_id"], described["client_secret"])


def seed_accounts(
    instance: Instance,
) -> tuple[RegisteredClient, RegisteredClient, RegisteredClient]:
    """Run before the server starts: the CLI writes to the same database."""
    create_user(instance)
    for email in sign_in_emails():
        create_user(instance, email)
    service = ("--grant-type", "client_credentials", "--scope", API_SCOPE)
    cc_es256 = create_client(
        instance, "--name", "bench ES256", *service, "--access-token-alg", "ES256"
    )
    cc_rs256 = create_client(
        instance, "--name", "bench RS256", *service, "--access-token-alg", "RS256"
    )
    web = create_client(
        instance,
        "--name", "bench web",
        "--redirect-uri", REDIRECT_URI,
        "--grant-type", "authorization_code",
        "--grant-type", "refresh_token",
        "--scope", WEB_SCOPE,
        "--skip-consent",
        "--id-token-alg", "ES256",
        "--access-token-alg", "ES256",
    )  # fmt: skip
    return cc_es256, cc_rs256, web


def login_form(base_url: str) -> tuple[str, str]:
    """A fetched sign-in form: its Flask session cookie pair and the CSRF token bound to it."""
    client = Client(base_url)
    page = client.request("GET", "/login")
    client.close()
    cookie = page.cookie("session")
    if cookie is None:
        raise RuntimeError("the sign-in page set no session cookie")
    return f"session={cookie}", csrf_token(page)


def sign_in(base_url: str, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Sign in like a browser; returns the "authserver_session=..." cookie pair."""
    cookie, csrf = login_form(base_url)
    client = Client(base_url)
    reply = client.request(
        "POST",
        "/login",
        headers={"Cookie": cookie},
        form={"email": email, "password": password, "csrf_token": csrf, "next": "/"},
    )
    client.close()
    session = reply.cookie("authserver_session")
    if reply.status != 303 or session is None:
        raise RuntimeError(f"sign-in failed: {reply.status} {reply.text[:300]}")
    return f"authserver_session={session}"


def authorize_query(client: RegisteredClient, scope: str = WEB_SCOPE) -> str:
    """The authorization request minus `state` (the scripts add their own)."""
    return urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "nonce": "bench-nonce",
            "code_challenge": code_challenge(CODE_VERIFIER),
            "code_challenge_method": "S256",
        }
    )


def mint_codes(
    base_url: str, seed: Seed, workdir: Path, count: int, *, scope: str = WEB_SCOPE
) -> list[str]:
    """``count`` fresh codes through /oauth/authorize with a signed-in session (wrk, 1 thread).

    wrk always runs for its whole --duration (a stopped thread only stops sending), so each
    round is sized from the rate of the previous one, and rounds repeat until there are enough.
    """
    spec = write_spec(
        workdir / "mint.spec",
        "GET",
        "/oauth/authorize?" + authorize_query(seed.web, scope) + "&state=bench",
        {"Cookie": seed.session_cookie},
    )
    out = workdir / "minted"
    codes: list[str] = []
    rate = MINT_RATE_GUESS
    deadline = time.monotonic() + MINT_SECONDS_LIMIT
    while len(codes) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"minted only {len(codes)} of {count} codes")
        wanted = count - len(codes)
        seconds = min(MINT_ROUND_LIMIT_SECONDS, max(1, math.ceil(wanted / rate * 1.1)))
        result = run_wrk(
            base_url,
            "mint_codes.lua",
            [str(spec), str(out), str(wanted)],
            seconds=seconds,
            connections=MINT_CONNECTIONS,
        )
        minted = (out.parent / (out.name + ".0")).read_text().split()
        if not minted:
            raise RuntimeError(f"minting codes failed ({result.unexpected} unexpected answers)")
        codes += minted
        observed = len(minted) / seconds
        # Fewer than asked: the round ran its whole duration, so this is the real rate.
        rate = observed if len(minted) < wanted else max(rate, observed)
    return codes


def exchange_code(base_url: str, client: RegisteredClient, code: str) -> dict[str, Any]:
    http = Client(base_url)
    reply = http.request(
        "POST",
        "/oauth/token",
        headers={"Authorization": client.basic},
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": CODE_VERIFIER,
        },
    )
    http.close()
    if reply.status != 200:
        raise RuntimeError(f"code exchange failed: {reply.status} {reply.text[:300]}")
    tokens: dict[str, Any] = json.loads(reply.body)
    return tokens


def user_tokens(base_url: str, seed: Seed, workdir: Path, count: int) -> list[dict[str, Any]]:
    """``count`` token responses (access, ID and refresh token) for the seeded user."""
    codes = mint_codes(base_url, seed, workdir, count)
    return [exchange_code(base_url, seed.web, code) for code in codes]


def split_per_thread(path: Path, lines: list[str], threads: int) -> Path:
    """Write PATH.<id> files, one share per wrk thread (lua/common.lua read_lines)."""
    for thread in range(threads):
        share = path.parent / f"{path.name}.{thread}"
        share.touch(mode=0o600)
        share.write_text("\n".join(lines[thread::threads]) + "\n")
    return path


def token_request_spec(path: Path, client: RegisteredClient, body: str) -> Path:
    return write_spec(
        path, "POST", "/oauth/token", {"Authorization": client.basic, "Content-Type": FORM}, body
    )

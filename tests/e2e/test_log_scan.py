"""No secret reaches the log: every flow against a live server, then its whole output is scanned.

The test signs in (and fails to), sets up MFA and signs in with a TOTP code and a recovery code,
runs the authorization code flow with PKCE, refreshes, calls userinfo, introspects, revokes,
authenticates clients with a secret (HTTP Basic and form) and with private_key_jwt, follows
emailed verification, reset and unlock links (real SMTP), and sends requests gunicorn itself
refuses. Every secret it used or received is collected on the way: passwords, client secrets,
codes and PKCE verifiers, every token, link tokens, the TOTP key and codes, recovery codes,
every cookie value and every Authorization header it sent.

Then the server's captured stdout and stderr must contain none of them, be JSON lines only, and
hold exactly one request line for every answer the app gave, under that answer's request id.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.databases import backends, fresh_postgres_database
from tests.support.live_browser import Browser, redirect_target
from tests.support.live_server import LiveServer, live_server
from tests.support.mailbox import has_subject, link_in, text_of
from tests.support.mfa import read_setup_page, recovery_codes_on
from tests.support.smtp import Inbox, smtp_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
REDIRECT_URI = "https://rp.example.test/cb"
SCOPE = "openid profile email offline_access"
API_SCOPE = "api.read"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LOCKOUT_THRESHOLD = 3
# A 6-digit code can only be told apart from other numbers by what surrounds it.
_DIGITS = re.compile(r"\d{6}")


# --- what the test learns on the way ------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One answer the app gave (gunicorn's own refusals carry no request id)."""

    method: str
    path: str
    status: int
    request_id: str


@dataclass
class Secrets:
    """Every secret used or received, by value, with what it was."""

    found: dict[str, str] = field(default_factory=dict)

    def add(self, what: str, value: str | None) -> None:
        assert value, f"{what}: expected a value"
        assert len(value) >= 6, f"{what}: {value!r} is too short to search for"
        self.found[value] = what
        if quote_plus(value) != value:  # as it travels in a form body or query string
            self.found[quote_plus(value)] = what + " (form-encoded)"

    def add_all(self, what: str, values: list[str]) -> None:
        for value in values:
            self.add(what, value)

    def add_token_response(self, what: str, token: dict[str, Any]) -> None:
        for name in ("access_token", "refresh_token", "id_token"):
            if name in token:
                self.add(f"{what} {name}", token[name])

    def occurrences(self, text: str) -> list[str]:
        leaks = []
        for value, what in self.found.items():
            if _DIGITS.fullmatch(value):
                pattern = rf"(?<![0-9A-Za-z]){value}(?![0-9A-Za-z])"
                present = re.search(pattern, text) is not None
            else:
                present = value in text
            if present:
                leaks.append(f"{what}: {value}")
        return leaks


@dataclass
class Scan:
    server: LiveServer
    inbox: Inbox
    secrets: Secrets = field(default_factory=Secrets)
    exchanges: list[Exchange] = field(default_factory=list)

    def watch(self, session: requests.Session) -> requests.Session:
        """Note every answer on `session`, and every credential and cookie it carried."""

        def note(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            sent = response.request.headers
            if sent.get("Authorization"):
                self.secrets.add("Authorization header", str(sent["Authorization"]))
                self.secrets.add(
                    "Authorization credentials", str(sent["Authorization"]).split()[-1]
                )
            for pair in str(sent.get("Cookie", "")).split(";"):
                name, _, value = pair.strip().partition("=")
                if value:
                    self.secrets.add(f"cookie {name}", value)
            for cookie in response.cookies:
                if cookie.value:
                    self.secrets.add(f"cookie {cookie.name}", cookie.value)
            request_id = response.headers.get("X-Request-ID")
            if request_id is not None:
                method = str(response.request.method)
                path = urlsplit(response.url).path
                self.exchanges.append(Exchange(method, path, response.status_code, request_id))

        session.hooks["response"].append(note)
        return session

    def browser(self) -> Browser:
        browser = Browser(self.server.base_url, timeout=TIMEOUT_SECONDS)
        self.watch(browser.http)
        return browser

    def mail(self, to: str, subject: str) -> Message:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            matching = [m for m in self.inbox.messages if m["To"] == to and has_subject(m, subject)]
            if matching:
                return matching[-1]
            assert time.monotonic() < deadline, f"no message {subject!r} to {to}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[LiveServer]:
    settings = {
        "AUTHSERVER_MAIL_BACKEND": "smtp",
        "AUTHSERVER_SMTP_HOST": inbox.host,
        "AUTHSERVER_SMTP_PORT": str(inbox.port),
        "AUTHSERVER_SMTP_STARTTLS": "false",
        "AUTHSERVER_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
    }
    with ExitStack() as stack:
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        workdir = tmp_path_factory.mktemp(f"log-scan-{request.param}")
        yield stack.enter_context(live_server(workdir, **settings))


# --- the flows ------------------------------------------------------------------------------------


def new_password() -> str:
    return f"log scan {secrets.token_urlsafe(12)}"


def create_account(scan: Scan, *, verify: bool = False) -> tuple[str, str]:
    email, password = f"scan-{secrets.token_hex(5)}@example.test", new_password()
    scan.secrets.add("password", password)
    scan.server.cli("user", "create", email, "--password-stdin", stdin=password + "\n")
    if verify:
        link = link_in(
            scan.mail(email, "Confirm your email address"), scan.server.url("/verify-email/")
        )
        scan.secrets.add("verification link token", link.rsplit("/", 1)[1])
        with scan.browser() as browser:
            assert "Email address verified" in browser.submit(browser.open(link)).text
    return email, password


def sign_in(browser: Browser, scan: Scan, email: str, password: str) -> requests.Response:
    page = browser.open(scan.server.url("/login"))
    return browser.submit(page, email=email, password=password)


def sign_out(browser: Browser, scan: Scan) -> None:
    home = browser.open(scan.server.url("/"))
    browser.submit(home)


def failed_sign_ins(scan: Scan, email: str) -> None:
    with scan.browser() as browser:
        for _ in range(2):
            wrong = new_password()
            scan.secrets.add("wrong password", wrong)
            assert sign_in(browser, scan, email, wrong).status_code == 401
        nobody = f"nobody-{secrets.token_hex(4)}@example.test"
        assert sign_in(browser, scan, nobody, new_password()).status_code == 401


def mfa_set_up_and_sign_ins(scan: Scan, browser: Browser, email: str, password: str) -> None:
    assert urlsplit(sign_in(browser, scan, email, password).url).path == "/"
    setup = browser.open(scan.server.url("/account/mfa"))
    authenticator, uri = read_setup_page(setup)
    scan.secrets.add("TOTP key", authenticator.secret)
    scan.secrets.add("TOTP key URI", uri)
    code = authenticator.code()
    scan.secrets.add("TOTP code", code)
    done = browser.submit(setup, code=code)
    recovery_codes = recovery_codes_on(done)
    assert len(recovery_codes) == 10, done.text
    scan.secrets.add_all("recovery code", recovery_codes)
    sign_out(browser, scan)

    # A wrong code, then the authenticator's next code.
    challenge = sign_in(browser, scan, email, password)
    assert urlsplit(challenge.url).path == "/mfa"
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
    scan.secrets.add("wrong TOTP code", wrong)
    refused = browser.submit(challenge, code=wrong)
    assert refused.status_code == 401
    next_code = authenticator.code(offset_steps=1)
    scan.secrets.add("TOTP code", next_code)
    assert urlsplit(browser.submit(refused, code=next_code).url).path == "/"
    sign_out(browser, scan)

    # A recovery code; the browser stays signed in for the OAuth flow.
    challenge = sign_in(browser, scan, email, password)
    used = browser.submit(challenge, code=recovery_codes[0])
    assert "Signed in with a recovery code" in used.text, used.text


def register_client(scan: Scan, *options: str) -> dict[str, Any]:
    created: dict[str, Any] = scan.server.cli_json(
        "client", "create", "--name", f"scan-{secrets.token_hex(4)}", *options
    )
    if created.get("client_secret"):
        scan.secrets.add("client secret", created["client_secret"])
    return created


def oauth_session(scan: Scan, client: dict[str, Any], **options: Any) -> OAuth2Session:
    session = OAuth2Session(
        client["client_id"],
        client.get("client_secret"),
        token_endpoint_auth_method=client["token_endpoint_auth_method"],
        revocation_endpoint_auth_method=client["token_endpoint_auth_method"],
        default_timeout=TIMEOUT_SECONDS,
        **options,
    )
    scan.watch(session)
    return session


def code_flow_refresh_userinfo_introspect_revoke(scan: Scan, browser: Browser) -> None:
    client = register_client(scan, "--redirect-uri", REDIRECT_URI, "--scope", SCOPE)
    api = register_client(
        scan,
        "--grant-type", "client_credentials",
        "--scope", API_SCOPE,
        "--token-endpoint-auth-method", "client_secret_post",
    )  # fmt: skip
    rp = oauth_session(
        scan, client, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    )
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    scan.secrets.add("PKCE verifier", verifier)
    scan.secrets.add("nonce", nonce)
    url, state = rp.create_authorization_url(
        scan.server.url("/oauth/authorize"), code_verifier=verifier, nonce=nonce
    )
    scan.secrets.add("state", state)
    consent = browser.open(url)
    callback = redirect_target(browser.submit(consent, press=("decision", "allow")))
    [code] = parse_qs(urlsplit(callback).query)["code"]
    scan.secrets.add("authorization code", code)
    token = dict(
        rp.fetch_token(
            scan.server.url("/oauth/token"),
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )
    )
    scan.secrets.add_token_response("code flow", token)

    refreshed = dict(rp.refresh_token(scan.server.url("/oauth/token"), token["refresh_token"]))
    scan.secrets.add_token_response("refresh", refreshed)
    assert rp.get(scan.server.url("/oauth/userinfo")).status_code == 200

    with oauth_session(scan, api) as resource_server:
        own = dict(
            resource_server.fetch_token(
                scan.server.url("/oauth/token"), grant_type="client_credentials"
            )
        )
        scan.secrets.add_token_response("client credentials", own)
    # RFC 7662 §4: the app that holds the token may ask about it.
    seen = rp.introspect_token(
        scan.server.url("/oauth/introspect"), token=refreshed["access_token"]
    )
    assert seen.json()["active"] is True
    revoked = rp.revoke_token(
        scan.server.url("/oauth/revoke"),
        refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    rp.close()


def private_key_jwt(scan: Scan, workdir: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks_file = workdir / "scan-jwks.json"
    jwks_file.write_text(json.dumps({"keys": [{**public, "kid": "scan-1", "alg": "RS256"}]}))
    client = register_client(
        scan,
        "--grant-type", "client_credentials",
        "--scope", API_SCOPE,
        "--token-endpoint-auth-method", "private_key_jwt",
        "--jwks-file", str(jwks_file),
    )  # fmt: skip
    now = int(time.time())
    claims = {
        "iss": client["client_id"],
        "sub": client["client_id"],
        "aud": scan.server.url("/oauth/token"),
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "scan-1"})
    scan.secrets.add("client assertion", assertion)
    with scan.watch(requests.Session()) as http:
        answer = http.post(
            scan.server.url("/oauth/token"),
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            timeout=TIMEOUT_SECONDS,
        )
    assert answer.status_code == 200, answer.text
    scan.secrets.add_token_response("private_key_jwt", answer.json())


def password_reset(scan: Scan, email: str) -> None:
    with scan.browser() as browser:
        request_page = browser.open(scan.server.url("/reset"))
        assert browser.submit(request_page, email=email).status_code == 200
        link = link_in(scan.mail(email, "Reset your password"), scan.server.url("/reset/"))
        scan.secrets.add("reset link token", link.rsplit("/", 1)[1])
        form = browser.open(link)
        password = new_password()
        scan.secrets.add("new password", password)
        done = browser.submit(form, password=password)
        assert urlsplit(done.url).path == "/reset/done"
        assert browser.open(link).status_code == 400  # spent
        assert urlsplit(sign_in(browser, scan, email, password).url).path == "/"


def lockout_and_unlock_link(scan: Scan, email: str, password: str) -> None:
    with scan.browser() as attacker, scan.browser() as owner:
        for _ in range(LOCKOUT_THRESHOLD):
            wrong = new_password()
            scan.secrets.add("wrong password", wrong)
            assert sign_in(attacker, scan, email, wrong).status_code == 401
        body = text_of(scan.mail(email, "Sign-in to your account was paused"))
        [link] = re.findall(r"http://\S+/unlock/\S+", body)
        scan.secrets.add("unlock link token", link.rsplit("/", 1)[1])
        done = owner.submit(owner.open(link))
        assert "Sign-in is unlocked" in done.text
        assert urlsplit(sign_in(owner, scan, email, password).url).path == "/"


def new_device_and_not_me_link(scan: Scan, email: str, password: str) -> None:
    with scan.browser() as owner, scan.browser() as stranger:
        assert urlsplit(sign_in(owner, scan, email, password).url).path == "/"  # the first
        assert urlsplit(sign_in(stranger, scan, email, password).url).path == "/"  # a new one
        body = text_of(scan.mail(email, "New sign-in to your account"))
        [link] = re.findall(r"http://\S+/not-me/\S+", body)
        scan.secrets.add("not-me link token", link.rsplit("/", 1)[1])
        done = owner.submit(owner.open(link))
        assert urlsplit(done.url).path == "/not-me/done"
        reset = link_in(scan.mail(email, "Reset your password"), scan.server.url("/reset/"))
        scan.secrets.add("reset link token", reset.rsplit("/", 1)[1])
        assert owner.open(link).status_code == 404  # spent


def requests_gunicorn_refuses(scan: Scan) -> None:
    """Malformed and oversized request lines never reach the app; gunicorn logs them."""
    token = secrets.token_urlsafe(32)
    scan.secrets.add("token in a malformed request line", token)
    host, port = urlsplit(scan.server.base_url).netloc.split(":")
    for request_line in (
        f"GET /reset/{token}?code={token}",  # no HTTP version: gunicorn logs the line
        f"GET /verify-email/{token}?state={token}&pad={'x' * 5000} HTTP/1.1",
    ):
        with socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS) as raw:
            raw.sendall(f"{request_line}\r\nHost: {host}\r\n\r\n".encode())
            status_line = raw.recv(4096).split(b"\r\n", 1)[0]
        assert status_line.split()[1] in (b"400", b"414"), status_line


# --- the test ------------------------------------------------------------------------------------


def test_no_secret_of_any_flow_reaches_the_server_log(
    server: LiveServer, inbox: Inbox, tmp_path: Path
) -> None:
    scan = Scan(server, inbox)
    email, password = create_account(scan, verify=True)
    failed_sign_ins(scan, email)
    with scan.browser() as browser:
        mfa_set_up_and_sign_ins(scan, browser, email, password)
        code_flow_refresh_userinfo_introspect_revoke(scan, browser)
    private_key_jwt(scan, tmp_path)
    password_reset(scan, create_account(scan)[0])
    lockout_and_unlock_link(scan, *create_account(scan))
    new_device_and_not_me_link(scan, *create_account(scan))
    requests_gunicorn_refuses(scan)
    with scan.watch(requests.Session()) as http:
        tagged = http.get(
            server.url("/healthz"), headers={"X-Request-ID": "scan-" + uuid.uuid4().hex}, timeout=5
        )
    time.sleep(0.5)  # mail is sent after the response; its log lines follow it

    log = server.log()
    assert len(scan.secrets.found) > 40, scan.secrets.found
    assert scan.secrets.occurrences(log) == []

    records = server.log_records()  # every line a JSON object
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)
    assert server.error_lines() == []
    request_lines: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["logger"] == "authserver.request":
            request_lines.setdefault(record["request_id"], []).append(record)
    for exchange in scan.exchanges:
        [line] = request_lines.get(exchange.request_id, [None])
        assert line is not None, exchange
        assert (line["method"], line["status"]) == (exchange.method, exchange.status), exchange
    assert tagged.headers["X-Request-ID"] in request_lines
    # Links were logged with their tokens replaced; gunicorn's messages are ours, JSON.
    paths = {line["path"] for lines in request_lines.values() for line in lines}
    assert {
        "/reset/[redacted]",
        "/verify-email/[redacted]",
        "/unlock/[redacted]",
        "/not-me/[redacted]",
    } <= paths
    gunicorn = [record for record in records if record["logger"].startswith("gunicorn")]
    assert any(record["message"].startswith("Starting gunicorn") for record in gunicorn)
    refused = [record for record in gunicorn if "Invalid request from ip=" in record["message"]]
    assert any("GET /reset/[redacted]" in record["message"] for record in refused)
    assert not any("code=" in record["message"] for record in refused)  # no query at all
    assert not any(record["logger"] == "gunicorn.access" for record in records)
    # Audit lines carry the request id of the request that caused them.
    audit = [record for record in records if record["logger"] == "authserver.audit"]
    from_requests = [record for record in audit if record["event"].startswith(("user:", "token:"))]
    assert from_requests
    assert all(record.get("request_id") in request_lines for record in from_requests)
    # So does mail sent after a response (reset, password changed, lock notice).
    mail = [record for record in records if record["logger"] == "authserver.mail"]
    assert len(mail) >= 3
    assert all(record.get("request_id") in request_lines for record in mail), mail

"""The HTTP edge over a real gunicorn in production mode: proxies, TLS, headers, a crash."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from authserver.dev_secrets import new_encryption_key, new_secret_key
from tests.support.live_server import (
    AUTHSERVER,
    LiveServer,
    free_port,
    run_cli,
    server_environment,
    stop,
    wait_until_serving,
)

pytestmark = pytest.mark.e2e

ISSUER = "https://id.example.test"
# What a TLS-terminating proxy on 127.0.0.1 adds to every request it forwards.
FROM_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
TIMEOUT = 10


@contextmanager
def production_server(workdir: Path, **settings: str) -> Iterator[LiveServer]:
    """`authserver init` and `authserver serve` with production settings, on a loopback port.

    (tests/support/live_server.py makes the issuer the server's own http URL, which production
    refuses; this is the same sequence with an https issuer.)
    """
    port = free_port()
    database = workdir / "authserver.sqlite3"
    env = server_environment(
        workdir,
        AUTHSERVER_ENV="production",
        AUTHSERVER_DATABASE_URL=f"sqlite:///{database}",
        AUTHSERVER_SECRET_KEY=new_secret_key(),
        AUTHSERVER_ENCRYPTION_KEYS=new_encryption_key(),
        AUTHSERVER_MAIL_BACKEND="file",
        **settings,
    )
    env["AUTHSERVER_ISSUER"] = ISSUER
    run_cli(env, workdir, "init")
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [AUTHSERVER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        server = LiveServer(
            base_url=f"http://127.0.0.1:{port}", env=env, workdir=workdir, log_path=log_path
        )
        wait_until_serving(server, process)  # /healthz answers over plain http in production
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Production behind a TLS-terminating proxy at 127.0.0.1 (the test plays the proxy)."""
    with production_server(
        tmp_path_factory.mktemp("proxied"), AUTHSERVER_TRUSTED_PROXIES="127.0.0.1"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def unproxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Production with the default: no proxy is trusted."""
    with production_server(tmp_path_factory.mktemp("unproxied")) as server:
        yield server


def test_pages_over_plain_http_are_redirected_to_https(proxied: LiveServer) -> None:
    response = requests.get(
        proxied.url("/login?next=%2Faccount"), allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 302
    assert response.headers["Location"] == ISSUER + "/login?next=%2Faccount"
    assert "Strict-Transport-Security" not in response.headers


def test_a_form_post_over_plain_http_is_refused(proxied: LiveServer) -> None:
    response = requests.post(
        proxied.url("/login"),
        data={"email": "a@example.com", "password": "x"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "TLS is required" in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/oauth/token"), ("POST", "/oauth/introspect"), ("POST", "/oauth/revoke"),
     ("GET", "/oauth/userinfo"), ("GET", "/.well-known/jwks.json"),
     ("GET", "/.well-known/openid-configuration")],
)  # fmt: skip
def test_protocol_endpoints_over_plain_http_answer_an_error(
    proxied: LiveServer, method: str, path: str
) -> None:
    response = requests.request(
        method,
        proxied.url(path),
        data={"grant_type": "client_credentials"} if method == "POST" else None,
        auth=("some-client", "some-secret") if method == "POST" else None,
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "TLS is required: send this request to the https URL.",
    }


def test_through_the_trusted_proxy_pages_are_served_with_every_header(
    proxied: LiveServer,
) -> None:
    response = requests.get(
        proxied.url("/login"), headers=FROM_PROXY, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "'nonce-" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_through_the_trusted_proxy_protocol_endpoints_answer(proxied: LiveServer) -> None:
    response = requests.get(
        proxied.url("/.well-known/openid-configuration"), headers=FROM_PROXY, timeout=TIMEOUT
    )

    assert response.status_code == 200
    assert response.json()["token_endpoint"] == ISSUER + "/oauth/token"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_forwarded_client_address_is_what_the_server_records(proxied: LiveServer) -> None:
    browser = requests.Session()
    form = browser.get(proxied.url("/login"), headers=FROM_PROXY, timeout=TIMEOUT)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
    assert token is not None
    # requests keeps Secure (__Host-) cookies for https URLs only: send them by hand, as the
    # proxy would pass on what the browser sent it over https.
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)
    headers = {**FROM_PROXY, "Cookie": cookies, "Referer": ISSUER + "/login",
               "X-Forwarded-Host": "id.example.test"}  # fmt: skip

    response = requests.post(
        proxied.url("/login"),
        data={"email": "nobody@example.com", "password": "wrong", "csrf_token": token.group(1)},
        headers=headers,
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 401, response.text[:300]
    with sqlite3.connect(proxied.workdir / "authserver.sqlite3") as database:
        addresses = {
            row[0] for row in database.execute("SELECT ip FROM audit_events WHERE ip IS NOT NULL")
        }
    assert addresses == {"203.0.113.7"}


def test_without_trusted_proxies_forwarded_headers_are_ignored(unproxied: LiveServer) -> None:
    # Neither gunicorn (which by default believes 127.0.0.1) nor the application may take the
    # proxy headers from a peer nobody named.
    response = requests.get(
        unproxied.url("/login"), headers=FROM_PROXY, allow_redirects=False, timeout=TIMEOUT
    )
    token = requests.post(
        unproxied.url("/oauth/token"), headers=FROM_PROXY, data={"grant_type": "x"}, timeout=TIMEOUT
    )

    assert response.status_code == 302
    assert response.headers["Location"] == ISSUER + "/login"
    assert token.status_code == 400
    assert token.json()["error_description"].startswith("TLS is required")


def test_an_internal_error_reaches_the_client_as_a_plain_500(tmp_path: Path) -> None:
    with production_server(tmp_path, AUTHSERVER_TRUSTED_PROXIES="127.0.0.1") as server:
        # Break the database under the running server: every client lookup now fails inside.
        with sqlite3.connect(tmp_path / "authserver.sqlite3") as database:
            database.execute("ALTER TABLE clients RENAME TO clients_gone")
        query = urlencode({"client_id": "abc", "redirect_uri": "https://rp.example/cb",
                           "response_type": "code"})  # fmt: skip

        page = requests.get(
            server.url("/oauth/authorize?" + query), headers=FROM_PROXY, timeout=TIMEOUT
        )
        token = requests.post(
            server.url("/oauth/token"),
            headers=FROM_PROXY,
            data={"grant_type": "client_credentials"},
            auth=("abc", "secret"),
            timeout=TIMEOUT,
        )
        log = server.log()

    assert page.status_code == 500
    assert "text/html" in page.headers["Content-Type"]
    assert f"<code>{page.headers['X-Request-ID']}</code>" in page.text
    assert token.status_code == 500
    assert token.json() == {"error": "server_error", "error_description": "Internal Server Error"}
    for body in (page.text, token.text):
        for leak in ("Traceback", "clients", "OperationalError", "sqlite", 'File "'):
            assert leak not in body
    assert "unhandled error on GET /oauth/authorize" in log
    assert "no such table: clients" in log

"""Malformed requests that only a real server passes on, against `authserver serve` (issue 10, 2b).

Raw sockets, because HTTP clients refuse to send these: a Host label over 63 characters, a
chunked body whose framing is broken, request lines a server cannot parse. Each gets our own
4xx (security headers, request id) and the log gets no traceback and no emailed-link token.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
LONG_HOST = "a" * 64 + ".example.org"


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("malformed")) as running:
        yield running


def send_raw(server: LiveServer, data: bytes) -> RawResponse | None:
    """Send ``data`` as it is; the response, or None when the server closed without one."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), TIMEOUT_SECONDS) as raw:
        raw.sendall(data)
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    if not received:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def request_bytes(request_line: str, *, host: str, headers: str = "", body: bytes = b"") -> bytes:
    head = f"{request_line}\r\nHost: {host}\r\nConnection: close\r\n{headers}\r\n"
    return head.encode("latin-1") + body


def assert_ours(response: RawResponse | None, *, status: int, json_body: bool) -> None:
    assert response is not None
    assert response.status == status, response
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in response.headers
    request_id = response.headers["x-request-id"]
    if json_body:
        assert response.headers["content-type"].startswith("application/json")
        assert b'"error":"invalid_request"' in response.body.replace(b" ", b"")
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert f"<code>{request_id}</code>".encode() in response.body


@pytest.mark.parametrize(
    ("request_line", "json_body"),
    [("GET /login HTTP/1.1", False), ("GET /.well-known/openid-configuration HTTP/1.1", True)],
)
def test_a_host_label_over_63_characters_gets_our_400(
    server: LiveServer, request_line: str, json_body: bool
) -> None:
    response = send_raw(server, request_bytes(request_line, host=LONG_HOST))

    assert_ours(response, status=400, json_body=json_body)
    assert server.error_lines() == []


@pytest.mark.parametrize(
    ("path", "json_body"), [("/login", False), ("/reset", False), ("/oauth/token", True)]
)
def test_a_broken_chunked_body_gets_our_400(server: LiveServer, path: str, json_body: bool) -> None:
    host = urlsplit(server.base_url).netloc
    data = request_bytes(
        f"POST {path} HTTP/1.1",
        host=host,
        headers="Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n",
        body=b"zz\r\nemail=a\r\n0\r\n\r\n",
    )

    response = send_raw(server, data)

    assert_ours(response, status=400, json_body=json_body)
    assert server.error_lines() == []


def test_link_tokens_in_malformed_requests_never_reach_the_log(server: LiveServer) -> None:
    host = urlsplit(server.base_url).netloc
    tokens = [secrets.token_urlsafe(32) for _ in range(5)]
    requests_sent = [
        # Request lines the server cannot parse: it logs them itself.
        f"GET /reset/!{tokens[0]}\r\nHost: {host}\r\n\r\n".encode(),
        f"GET /verify-email/$%{tokens[1]} HTTP/1.1 extra\r\nHost: {host}\r\n\r\n".encode(),
        f"GET /login?a%22b={tokens[4]} HTTP/1.1 x\r\nHost: {host}\r\n\r\n".encode(),
        # Parsed, but no route: the app's request line has the path as sent.
        request_bytes(f"PUT /unlock/({tokens[2]} HTTP/1.1", host=host),
        request_bytes(f"GET /reset/{tokens[3][:20]}/x HTTP/1.1", host=host),
    ]

    statuses = [send_raw(server, data) for data in requests_sent]

    assert [response.status if response else None for response in statuses] == [
        400,
        400,
        400,
        405,
        404,
    ]
    log = server.log()
    assert "/unlock/[redacted]" in log
    for token in tokens:
        assert token not in log and token[:20] not in log
    assert server.error_lines() == []

"""A relying party's back-channel logout endpoint on loopback, for the logout token tests.

    with logout_receiver() as rp:                 # http://127.0.0.1:<port>/backchannel-logout
        ... register rp.uri, end a session, run the delivery ...
        rp.wait_for(1)                            # the form bodies received, within a deadline
        rp.tokens()                               # their `logout_token` values

``statuses`` scripts the answers (500, 500, 200 ...; the last one repeats), ``location`` adds a
Location header to each (a redirect). ``hang=True`` makes
every request wait without answering until the receiver stops (a receiver that never answers).
Each request is recorded before it is answered, with its Content-Type.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt

PATH = "/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class Received:
    content_type: str
    form: dict[str, list[str]]


@dataclass
class LogoutReceiver:
    base_url: str
    statuses: Sequence[int]
    hang: bool
    location: str | None = None  # sent with every answer (a redirect, with a 3xx status)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def uri(self) -> str:
        return self.base_url + PATH

    def record(self, each: Received) -> int:
        with self.lock:
            self.received.append(each)
            index = len(self.received) - 1
        return self.statuses[min(index, len(self.statuses) - 1)]

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def tokens(self) -> list[str]:
        return [each.form["logout_token"][0] for each in self.snapshot()]

    def wait_for(self, count: int, *, within: float = 10.0) -> list[Received]:
        """At least ``count`` requests, waited for up to ``within`` seconds; fails otherwise."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = self.snapshot()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} logout requests, got {len(self.snapshot())}")


def _handler(receiver: LogoutReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            status = receiver.record(Received(self.headers.get("Content-Type", ""), parse_qs(body)))
            if receiver.hang:
                receiver.stopping.wait(30)
                return
            self.send_response(status)
            if receiver.location is not None:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "0")
            self.send_header("Cache-Control", "no-store")  # §2.8
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows the assertions

    return Handler


@contextmanager
def logout_receiver(
    statuses: Sequence[int] = (200,), *, hang: bool = False, location: str | None = None
) -> Iterator[LogoutReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = LogoutReceiver(
        f"http://127.0.0.1:{server.server_address[1]}", statuses, hang, location
    )
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def verify_logout_token(
    token: str, keys: jwt.PyJWKSet, *, issuer: str, audience: str
) -> dict[str, Any]:  # Any: the JSON claims
    """OIDC Back-Channel Logout §2.6, as a relying party checks it, with PyJWT only."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"  # §2.4 (explicit typing, RFC 8725 §3.11)
    key = keys[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=[key.algorithm_name],
        audience=audience,
        issuer=issuer,
        options={"require": ["iss", "aud", "iat", "exp", "jti"]},
    )
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims  # §2.4: a nonce is forbidden, so it cannot pass as an ID token
    assert "sid" in claims or "sub" in claims
    assert 0 < claims["exp"] - claims["iat"] <= 300
    return claims

"""The app and the API behind the gateway: a loopback server that answers every request with
what it received, as JSON, and remembers it.

    with echo_backend() as backend:       # http://127.0.0.1:<port>, the doc's 127.0.0.1:8080
        ... a request through Apache ...
        backend.seen[-1].claims           # {"sub": ..., "email": ...} from OIDC_CLAIM_* headers

The tests read the claims from what the backend got, never from Apache's answer alone, and a
refused request is one the backend never saw.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLAIM_PREFIX = "oidc_claim_"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]

    @property
    def claims(self) -> dict[str, str]:
        """The OIDC_CLAIM_<name> headers by <name> (http.server keeps the names' case)."""
        return {
            name[len(CLAIM_PREFIX) :]: value
            for name, value in self.headers.items()
            if name.lower().startswith(CLAIM_PREFIX)
        }


@dataclass
class EchoBackend:
    origin: str = ""
    seen: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [each.path for each in self.seen]


def _handler(backend: EchoBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received = Received(self.path, dict(self.headers.items()))
            backend.seen.append(received)
            body = json.dumps({"path": received.path, "headers": received.headers}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests assert on `backend.seen`; Apache's access log has the requests

    return Handler


@contextmanager
def echo_backend() -> Iterator[EchoBackend]:
    backend = EchoBackend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(backend))
    backend.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="echo-backend", daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

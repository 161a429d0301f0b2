"""A relying party's redirect URI that a real browser can arrive at: a tiny loopback HTTP server.

    with callback_receiver() as receiver:        # http://127.0.0.1:<free port>/cb
        ... register receiver.redirect_uri, send the browser through the flow ...
        receiver.arrivals                         # the query of every request the browser made

It answers `/cb` with a small page of its own and `/favicon.ico` with 204, so the browser
records no error on this origin; anything else is a 404 (which the browser test then reports).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CALLBACK_PATH = "/cb"
CALLBACK_HEADING = "Back at the app"
CALLBACK_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example app</title></head>
<body><h1>{CALLBACK_HEADING}</h1></body></html>
""".encode()


@dataclass
class CallbackReceiver:
    origin: str
    arrivals: list[dict[str, str]] = field(default_factory=list)

    @property
    def redirect_uri(self) -> str:
        return self.origin + CALLBACK_PATH


def _handler(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == CALLBACK_PATH:
                query = parse_qs(url.query)
                receiver.arrivals.append({name: values[0] for name, values in query.items()})
                self._answer(200, CALLBACK_PAGE)
            elif url.path == "/favicon.ico":
                self._answer(204, b"")
            else:
                self._answer(404, b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test asserts on `arrivals`; a line per request on stderr says nothing

    return Handler


@contextmanager
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(origin="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="callback-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

"""A tiny web site on loopback that a real browser can visit: a relying party's redirect URI,
or crafted pages for checking the browser checks themselves.

    with loopback_site({"/cb": html_page("Back at the app")}) as site:   # http://127.0.0.1:<port>
        ... register site.url("/cb"), send the browser through the flow ...
        site.arrivals("/cb")      # the query of every request the browser made there

Unknown paths answer 404, except /favicon.ico (204), so a visit logs no error of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


def html_page(heading: str, body: str = "", **headers: str) -> Resource:
    """A well-formed HTML page (language, title, one heading) with `body` after the heading.

    `headers` are sent with it; underscores in their names become dashes."""
    html = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(heading)}</title></head>\n"
        f"<body><h1>{escape(heading)}</h1>{body}</body></html>\n"
    )
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return Resource(html.encode(), headers=named)


@dataclass
class LoopbackSite:
    resources: Mapping[str, Resource]
    origin: str = ""
    # (path, query) of every GET, in the order they came.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.origin + path

    def arrivals(self, path: str) -> list[dict[str, str]]:
        return [query for seen, query in self.requests if seen == path]


def _handler(site: LoopbackSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            site.requests.append((url.path, query))
            resource = site.resources.get(url.path)
            if resource is not None:
                self._answer(200, resource)
            else:
                self._answer(204 if url.path == "/favicon.ico" else 404, Resource(b""))

        def _answer(self, status: int, resource: Resource) -> None:
            self.send_response(status)
            for name, value in resource.headers.items():
                self.send_header(name, value)
            if resource.body:
                self.send_header("Content-Type", resource.content_type)
            self.send_header("Content-Length", str(len(resource.body)))
            self.end_headers()
            self.wfile.write(resource.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests assert on `site.requests`; a line per request on stderr says nothing

    return Handler


@contextmanager
def loopback_site(resources: Mapping[str, Resource]) -> Iterator[LoopbackSite]:
    site = LoopbackSite(resources)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="loopback-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

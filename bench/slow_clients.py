"""Slow clients: does a server keep answering while many connections trickle their requests?

    python -m bench.slow_clients                       # every server kind, 120 slow connections
    python -m bench.slow_clients --kinds gevent,sync --connections 120 --interval 3

Half of the connections send a request head one header line every ``interval`` seconds and
never finish it (slow headers, "slowloris"); the other half send a complete head announcing a
form body and then trickle the body one byte per ``interval`` (slow bodies). While they are
open, fresh connections ask for /healthz, each with its own deadline; the report gives each
probe's time, or "timeout". Everything is on 127.0.0.1; every socket is closed at the end.

The e2e test (tests/e2e/test_slow_clients.py) drives `authserver serve` with the same class.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# A body the token endpoint reads in full (far below AUTHSERVER_MAX_CONTENT_LENGTH) that never
# arrives: only one byte per interval of it is ever sent.
ANNOUNCED_BODY_BYTES = 4000


@dataclass
class SlowClients:
    """``count`` connections to host:port that trickle, from one background thread."""

    host: str
    port: int
    count: int
    interval_seconds: float = 3.0
    kinds: tuple[str, ...] = ("headers", "body")  # alternate between these, in this order
    # (kind, socket) of every connection still open
    connections: list[tuple[str, socket.socket]] = field(default_factory=list)
    closed_by_server: int = 0
    ticks: int = 0  # rounds of trickling done so far
    _stop: threading.Event = field(default_factory=threading.Event)

    def open(self) -> None:
        for number in range(self.count):
            kind = self.kinds[number % len(self.kinds)]
            conn = socket.create_connection((self.host, self.port), timeout=5)
            self.connections.append((kind, conn))
            self._send(kind, conn, self._opening(kind))

    @property
    def open_count(self) -> int:
        return len(self.connections)

    def _opening(self, kind: str) -> bytes:
        host = f"Host: {self.host}:{self.port}\r\n"
        if kind == "headers":  # the head never ends
            return f"GET /healthz HTTP/1.1\r\n{host}".encode()
        return (
            f"POST /oauth/token HTTP/1.1\r\n{host}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {ANNOUNCED_BODY_BYTES}\r\n\r\ngrant_type="
        ).encode()

    def _send(self, kind: str, conn: socket.socket, data: bytes) -> None:
        try:
            conn.sendall(data)
        except OSError:  # the server closed it (a timeout of its own): count, stop sending
            self.closed_by_server += 1
            self.connections.remove((kind, conn))
            conn.close()

    def trickle(self) -> None:
        """One more header line or body byte on every connection, each interval, until stopped."""
        while not self._stop.wait(self.interval_seconds):
            line = f"X-Slow-{self.ticks}: 1\r\n".encode()
            for kind, conn in list(self.connections):
                self._send(kind, conn, line if kind == "headers" else b"x")
            self.ticks += 1

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for _, conn in self.connections:
            conn.close()
        self.connections.clear()


@contextmanager
def slow_clients(
    host: str,
    port: int,
    count: int,
    interval_seconds: float = 3.0,
    kinds: tuple[str, ...] = ("headers", "body"),
) -> Iterator[SlowClients]:
    """Open the connections, trickle in the background, close everything on the way out."""
    clients = SlowClients(host, port, count, interval_seconds, kinds)
    sender = threading.Thread(target=clients.trickle, name="slow-clients", daemon=True)
    try:
        clients.open()
        sender.start()
        yield clients
    finally:
        clients.stop()
        if sender.is_alive():  # at most one round of sends away
            sender.join(timeout=interval_seconds + 30)
        clients.close()


def healthz_seconds(host: str, port: int, deadline_seconds: float) -> float | None:
    """Seconds a fresh connection takes to get a 200 from /healthz; None past the deadline."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=deadline_seconds)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return None
    except OSError:
        return None
    finally:
        conn.close()
    return time.monotonic() - started


def probe(
    host: str,
    port: int,
    *,
    connections: int,
    probes: int,
    deadline_seconds: float,
    kinds: tuple[str, ...],
) -> tuple[list[float | None], int]:
    """/healthz times while ``connections`` slow clients are open, and how many the server cut."""
    times: list[float | None] = []
    with slow_clients(host, port, connections, kinds=kinds) as clients:
        for _ in range(probes):
            times.append(healthz_seconds(host, port, deadline_seconds))
            time.sleep(1.0)  # spread the probes over the trickle (a measuring tool, not a test)
        return times, clients.closed_by_server


def _format(times: list[float | None]) -> str:
    return " ".join("timeout" if t is None else f"{t * 1000:.0f}ms" for t in times)


def main(argv: list[str] | None = None) -> int:
    from bench.servers import SERVER_KINDS, make_instance, serving

    parser = argparse.ArgumentParser(prog="python -m bench.slow_clients")
    parser.add_argument("--kinds", default=",".join(SERVER_KINDS))
    parser.add_argument("--connections", type=int, default=120)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--deadline", type=float, default=5.0)
    parser.add_argument("--slow", default="headers,body", help="headers, body or both")
    options = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="authserver-slow-"))
    instance = make_instance(workdir)
    for key in options.kinds.split(","):
        kind = SERVER_KINDS[key]
        with serving(instance, kind) as server:
            times, cut = probe(
                "127.0.0.1",
                instance.port,
                connections=options.connections,
                probes=options.probes,
                deadline_seconds=options.deadline,
                kinds=tuple(options.slow.split(",")),
            )
            alive = server.process.poll() is None
        print(f"{kind.name} (slow {options.slow}): /healthz {_format(times)}; "
              f"slow connections cut: {cut}; server alive: {alive}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

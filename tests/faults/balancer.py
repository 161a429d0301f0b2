"""A small TCP load balancer on loopback: round robin per connection, a thread per direction.

    with Balancer([port_a, port_b]) as balancer:
        requests.get(balancer.url("/healthz"))

Like the balancers in front of a real deployment, it hands each new connection to the next
backend and, when that backend refuses the connection (a killed instance), tries the next one
and passes the refusing one over for DOWN_SECONDS; a connection already handed to a backend
that dies is cut, as it would be in production. It
knows nothing of HTTP. `stop()` closes every socket it opened and joins its threads.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType

CONNECT_TIMEOUT_SECONDS = 2
CHUNK_BYTES = 65536
DOWN_SECONDS = 2.0


class Balancer:
    def __init__(self, backend_ports: list[int]) -> None:
        self.backend_ports = list(backend_ports)
        self._turn = itertools.cycle(range(len(self.backend_ports)))
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Connections handed to each backend port: shows that traffic reached both instances.
        self.handed: Counter[int] = Counter()
        # Connections a backend refused (the balancer then tried the next one).
        self.refused: Counter[str] = Counter()
        self._down_until: dict[int, float] = {}
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = int(self._listener.getsockname()[1])
        self._spawn(self._accept_loop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> Balancer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        # shutdown() wakes the accept() blocked in another thread; close() alone may not.
        _shut(self._listener)
        self._listener.close()
        with self._lock:
            sockets = list(self._open)
        for each in sockets:
            _shut(each)
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            for each in self._open:
                each.close()
            self._open.clear()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [each for each in self._threads if each.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: stop() was called
            self._track(downstream)
            self._spawn(self._connect, downstream)

    def _connect(self, downstream: socket.socket) -> None:
        upstream = self._connect_upstream()
        if upstream is None:
            self._close(downstream)
            return
        replies = threading.Thread(target=self._pump, args=(upstream, downstream), daemon=True)
        replies.start()
        self._pump(downstream, upstream)
        replies.join()
        self._close(upstream)
        self._close(downstream)

    def _connect_upstream(self) -> socket.socket | None:
        """The next backend in turn that accepts the connection; None when none does.

        A backend that refused a connection is passed over for a moment (a passive health
        check, as balancers do): it is tried last rather than first, so a connection is cut
        only when every backend refuses it. The order is fixed once per connection: other
        connections turn the shared round robin at the same time, and taking a fresh turn
        per attempt could hand one connection the same resting backend twice and none other.
        """
        with self._lock:
            first = next(self._turn)
            in_turn = self.backend_ports[first:] + self.backend_ports[:first]
            now = time.monotonic()
            resting = [port for port in in_turn if self._down_until.get(port, 0.0) > now]
        for port in [port for port in in_turn if port not in resting] + resting:
            try:
                upstream = socket.create_connection(
                    ("127.0.0.1", port), timeout=CONNECT_TIMEOUT_SECONDS
                )
            except OSError as exc:
                with self._lock:
                    self.refused[f"{port} {type(exc).__name__}"] += 1
                    self._down_until[port] = time.monotonic() + DOWN_SECONDS
                continue
            upstream.settimeout(None)
            with self._lock:
                self._down_until.pop(port, None)
                self.handed[port] += 1
            self._track(upstream)
            return upstream
        with self._lock:
            self.refused["no backend"] += 1
        return None

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy one direction until it ends, then pass the end on (half-close, then close)."""
        try:
            while chunk := source.recv(CHUNK_BYTES):
                sink.sendall(chunk)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            # One side was reset (a killed backend): cut the other side too, as a real
            # balancer does, so the client sees the failure instead of waiting.
            _shut(sink)
            _shut(source)

    def _track(self, each: socket.socket) -> None:
        with self._lock:
            self._open.add(each)

    def _close(self, each: socket.socket) -> None:
        with self._lock:
            self._open.discard(each)
        each.close()


def _shut(each: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or never connected
        each.shutdown(socket.SHUT_RDWR)

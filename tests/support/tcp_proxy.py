"""A TCP proxy on loopback that a test can cut and restore, to stand between the app and a server.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:    # listens on 127.0.0.1:proxy.port
        ...                                          # traffic flows both ways
        proxy.cut()                                  # every open connection closed; new ones
                                                     # are reset at once ("refuse")
        proxy.cut(blackhole=True)                    # ...or accepted and never answered
        proxy.restore()                              # new connections reach the server again

It lets a test take a database away from the app without touching the server itself (other
tests share it). Threads and sockets only; every thread is a daemon and is joined by `stop`, which
`with` calls even when the test fails.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

CHUNK_BYTES = 65536
ACCEPT_POLL_SECONDS = 0.1
UPSTREAM_CONNECT_SECONDS = 5.0
JOIN_SECONDS = 5.0


def _close(connection: socket.socket, *, reset: bool = False) -> None:
    """Close at once; ``reset`` sends RST (SO_LINGER 0), as a refused or dropped peer would."""
    try:
        if reset:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Also wakes a pump thread blocked in recv() on it: close() alone would not, and the
        # connection would live on until that recv returned.
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    connection.close()


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # both ends of every forwarded connection
        self._held: set[socket.socket] = set()  # blackholed: accepted, never answered
        self._mode = "forward"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def cut(self, *, blackhole: bool = False) -> None:
        """Drop every connection; then reset new ones, or with ``blackhole`` hold them silent."""
        with self._lock:
            self._mode = "blackhole" if blackhole else "refuse"
            dropped, self._open = self._open, set()
        for connection in dropped:
            _close(connection, reset=True)

    def restore(self) -> None:
        """Forward new connections again (held blackholed ones are closed: their client gave up
        or will see the close)."""
        with self._lock:
            self._mode = "forward"
            held, self._held = self._held, set()
        for connection in held:
            _close(connection)

    def stop(self) -> None:
        self._stopping.set()
        self.cut()
        self.restore()
        self._listener.close()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed by stop()
            self._admit(client)

    def _admit(self, client: socket.socket) -> None:
        with self._lock:
            mode = self._mode
            if mode == "blackhole":
                self._held.add(client)
                return
        if mode == "refuse":
            _close(client, reset=True)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=UPSTREAM_CONNECT_SECONDS)
        except OSError:
            _close(client, reset=True)
            return
        server.settimeout(None)
        with self._lock:
            if self._mode != "forward":  # cut while we were connecting
                _close(client, reset=True)
                _close(server)
                return
            self._open.update((client, server))
        self._start(self._pump, client, server)
        self._start(self._pump, server, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(CHUNK_BYTES):
                target.sendall(chunk)
        except OSError:
            pass  # cut, or the other side went away
        with self._lock:
            ours = source in self._open
            self._open.discard(source)
            self._open.discard(target)
        if ours:  # an ordinary close: pass it on
            _close(source)
            _close(target)

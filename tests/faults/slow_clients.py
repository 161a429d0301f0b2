"""Slow clients: connections that trickle their request in, a piece every few seconds.

    with SlowClients(port, count=120, interval_seconds=3) as attack:
        ...                         # probe the server meanwhile
    attack.reconnects               # how often the server closed one (it is reopened at once)

Half send their headers a line at a time and never finish them; half send complete headers
announcing a body, then the body a byte at a time. A connection the server closes is opened
again, as an attacker would. One thread drives them all; leaving the block closes them.
"""

from __future__ import annotations

import itertools
import socket
import threading
from types import TracebackType

CONNECT_TIMEOUT_SECONDS = 2
BODY_BYTES = 2000  # under the body limit: the server has to wait for it


class SlowClients:
    def __init__(self, port: int, *, count: int, interval_seconds: float) -> None:
        self.port = port
        self.count = count
        self.interval_seconds = interval_seconds
        self.reconnects = 0
        self.failed_connects = 0
        self._open: list[socket.socket | None] = [None] * count
        self._lines = itertools.count()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowClients:
        for slot in range(self.count):
            self._open[slot] = self._connect(slot)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        for each in self._open:
            if each is not None:
                each.close()

    @property
    def connected(self) -> int:
        return sum(each is not None for each in self._open)

    def _start_of_request(self, slot: int) -> bytes:
        host = f"Host: 127.0.0.1:{self.port}\r\n"
        if slot % 2 == 0:  # slow headers: a request line and the first header, never the end
            return f"GET /healthz HTTP/1.1\r\n{host}".encode()
        return (  # slow body: complete headers, then the body a byte at a time
            f"POST /oauth/token HTTP/1.1\r\n{host}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {BODY_BYTES}\r\n\r\n"
        ).encode()

    def _next_piece(self, slot: int) -> bytes:
        if slot % 2 == 0:
            return f"X-Slow-{next(self._lines)}: still typing\r\n".encode()
        return b"a"

    def _connect(self, slot: int) -> socket.socket | None:
        try:
            each = socket.create_connection(
                ("127.0.0.1", self.port), timeout=CONNECT_TIMEOUT_SECONDS
            )
            each.sendall(self._start_of_request(slot))
        except OSError:
            self.failed_connects += 1
            return None
        return each

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_seconds):
            for slot, each in enumerate(self._open):
                if self._stopping.is_set():
                    return
                if each is not None:
                    try:
                        each.sendall(self._next_piece(slot))
                        continue
                    except OSError:
                        each.close()  # the server gave up on it: open another
                        self.reconnects += 1
                self._open[slot] = self._connect(slot)

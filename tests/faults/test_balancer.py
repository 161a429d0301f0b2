"""The fault suite's balancer: a dead backend must cost no connection while another one lives.

The instance-killed scenario judges the server by what clients see through this balancer, so
a connection the balancer itself drops would be blamed on the server. It needs no service.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.balancer import Balancer

CONNECTIONS = 200
AT_ONCE = 32
TIMEOUT_SECONDS = 5


class EchoServer:
    """Answers each connection's first message with the same bytes, then closes it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.sendall(connection.recv(64))

    def close(self) -> None:
        # shutdown() wakes the accept() blocked in the other thread; close() alone may not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=TIMEOUT_SECONDS)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def a_port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def round_trip(balancer: Balancer, number: int) -> bytes:
    message = f"ping {number}".encode()
    with socket.create_connection(("127.0.0.1", balancer.port), timeout=TIMEOUT_SECONDS) as each:
        each.sendall(message)
        return each.recv(64)


def test_concurrent_connections_all_reach_the_live_backend_when_the_other_refuses(
    echo: EchoServer,
) -> None:
    dead = a_port_nobody_listens_on()
    with Balancer([dead, echo.port]) as balancer, ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(lambda n: round_trip(balancer, n), range(CONNECTIONS)))

    assert answers == [f"ping {n}".encode() for n in range(CONNECTIONS)]
    assert balancer.handed == {echo.port: CONNECTIONS}
    assert "no backend" not in balancer.refused
    assert balancer.refused[f"{dead} ConnectionRefusedError"] >= 1


def test_a_connection_is_cut_only_when_every_backend_refuses() -> None:
    dead = [a_port_nobody_listens_on(), a_port_nobody_listens_on()]
    # Cut with the request unread: the client sees a reset (or an end, had it been read).
    with Balancer(dead) as balancer, contextlib.suppress(ConnectionResetError):
        assert round_trip(balancer, 1) == b""
    assert balancer.refused["no backend"] == 1

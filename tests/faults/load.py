"""A bounded load: a few threads, each a `Visitor` sending the realistic mix until stopped.

    with Load(base_url, credentials, recorder, threads=4) as load:
        ...                    # cause the fault; the visitors keep going
    load.visitors              # what each kept (refresh tokens), for the checks afterwards

Before the threads start, each visitor obtains its first refresh token (the authorization code
flow), so the fault finds every kind of request under way. Leaving the block stops and joins the
threads, even when the block failed.
"""

from __future__ import annotations

import threading
from types import TracebackType

import pytest

from tests.faults.recorder import Recorder
from tests.faults.traffic import Credentials, Visitor

JOIN_SECONDS = 30


class Load:
    def __init__(
        self, base_url: str, credentials: Credentials, recorder: Recorder, *, threads: int = 4
    ) -> None:
        self.visitors = [Visitor(base_url, credentials, recorder) for _ in range(threads)]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Load:
        for number, visitor in enumerate(self.visitors):
            if not visitor.start_family():
                pytest.fail("a visitor could not obtain its first refresh token before the fault")
            visitor.turn = number * 2  # the threads start at different points of the mix
        for visitor in self.visitors:
            thread = threading.Thread(target=visitor.run, args=(self._stopping,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=JOIN_SECONDS)
        for visitor in self.visitors:
            if visitor.person is not None:
                visitor.person.close()

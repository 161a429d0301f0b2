"""Reading what the app logs, in-process: a handler with our JSON formatter on the root logger.

    with captured_log() as log:
        client.get("/healthz")
    [line] = log.records(logger="authserver.request")

(Live servers write their lines to stdout: tests/support/live_server.py reads those.)
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from authserver.observability.logging import JsonFormatter


class CapturedLog:
    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self, *, logger: str | None = None) -> list[dict[str, Any]]:  # Any: JSON values
        """Every line, parsed (each must be one JSON object); only `logger`'s when given."""
        parsed = [json.loads(line) for line in self.text().splitlines()]
        assert all(isinstance(record, dict) for record in parsed)
        return [record for record in parsed if logger is None or record["logger"] == logger]


@contextmanager
def captured_log() -> Iterator[CapturedLog]:
    captured = CapturedLog()
    handler = logging.StreamHandler(captured.buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.removeHandler(handler)

"""Process-wide logging: one line per event on stdout, JSON (or text on a developer's terminal).

Every line carries the time (UTC, ISO 8601), level, logger, message and, inside a request, its
request id, followed by the record's structured ``extra`` fields; an exception's traceback goes
in ``exception``. Everything passes through :mod:`authserver.observability.redaction` first.

One handler serves the whole process: the app's loggers, the libraries', and (through
:mod:`authserver.serving.gunicorn_logger`) gunicorn's own messages.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from authserver.config import Settings
from authserver.observability.redaction import redact_mapping, redact_text, redact_value
from authserver.observability.request_id import current_request_id

_HANDLER_NAME = "authserver"
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}
_BASE_FIELDS = ("time", "level", "logger", "message", "request_id")


_last_second: list[tuple[int, str]] = [(-1, "")]  # (whole second, its text): one entry


def _timestamp(record: logging.LogRecord) -> str:
    # Most lines fall in the same second as the one before: format the second once.
    second, fraction = divmod(record.created, 1)
    whole = int(second)
    cached_second, text = _last_second[0]
    if cached_second != whole:
        text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second[0] = (whole, text)
    return f"{text}.{min(int(fraction * 1000), 999):03d}Z"


def _message(record: logging.LogRecord) -> str:
    if isinstance(record.args, Mapping) and record.args:
        # `log.info("%(password)s", {...})`: redact by name before the names are lost.
        try:
            return redact_text(str(record.msg) % redact_mapping(record.args))
        except (TypeError, ValueError, KeyError):
            pass  # e.g. "%(code)d" given "[redacted]": fall back to scanning the text
    return redact_text(record.getMessage())


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:  # Any: JSON values
    extra = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
    return redact_mapping(extra)


class RedactingFormatter(logging.Formatter):
    """Collects a record's fields, redacted; subclasses only choose how they are written."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:  # Any: JSON values
        fields: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        extra = _extra_fields(record)  # redacted already
        request_id = extra.pop("request_id", None)
        if request_id is None and (current := current_request_id()) is not None:
            request_id = redact_value(current)
        if request_id is not None:
            fields["request_id"] = request_id
        for key, value in extra.items():
            # A field of ours is never overwritten by an extra of the same name.
            fields.setdefault(key, value)
        if record.exc_info:
            fields["exception"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            fields["exception"] = redact_text(record.exc_text)
        if record.stack_info:
            fields["stack"] = redact_text(self.formatStack(record.stack_info))
        return fields


# json.dumps builds a new encoder for every call given `default`; this one is built once (an
# encoder keeps no state between calls, so threads may share it).
_JSON = json.JSONEncoder(ensure_ascii=True, default=str)


class JsonFormatter(RedactingFormatter):
    """One JSON object per line; ASCII only, so no byte of a hostile value can break the line."""

    def format(self, record: logging.LogRecord) -> str:
        return _JSON.encode(self.fields(record))


class TextFormatter(RedactingFormatter):
    """For reading on a terminal: ``time LEVEL logger [request id] message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        head = f"{fields.pop('time')} {fields.pop('level')} {fields.pop('logger')}"
        request_id = fields.pop("request_id", None)
        if request_id is not None:
            head += f" [{request_id}]"
        line = f"{head} {fields.pop('message')}"
        exception = fields.pop("exception", None)
        stack = fields.pop("stack", None)
        for key, value in fields.items():
            line += f" {key}={json.dumps(value, ensure_ascii=True, default=str)}"
        for block in (exception, stack):
            if block:
                line += "\n" + block
        return line


FORMATTERS: dict[str, type[RedactingFormatter]] = {"json": JsonFormatter, "text": TextFormatter}


class ProcessStreamHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stdout`` (or ``sys.stderr``) is at the time of each record.

    Holding the stream of the moment the handler was made would break when a test harness
    replaces ``sys.stdout`` later.
    """

    def __init__(self, stream_name: str) -> None:
        logging.Handler.__init__(self)  # StreamHandler.__init__ would pin one stream
        self.stream_name = stream_name

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self.stream_name)
        return stream

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the process's current stream


def _process_handler() -> ProcessStreamHandler:
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, ProcessStreamHandler) and handler.get_name() == _HANDLER_NAME:
            return handler
    created = ProcessStreamHandler("stdout")
    created.set_name(_HANDLER_NAME)
    created.setFormatter(JsonFormatter())
    root.addHandler(created)
    return created


def configure_logging(settings: Settings) -> None:
    """One handler for the process, however many apps are created (tests make many).

    Called again (another app, a gunicorn worker), it applies the level and format again.
    """
    logging.getLogger().setLevel(settings.log_level)
    _process_handler().setFormatter(FORMATTERS[settings.log_format]())
    _skip_unused_record_attributes()


def _skip_unused_record_attributes() -> None:
    """Every request writes a line, and no line of ours shows the caller's file and line, the
    thread or the process. Not finding them out is the logging module's own documented
    optimisation (Logging HOWTO, "Optimization"); it took about a quarter of a request line's
    cost, which is what the JWKS and discovery answers mostly are (BENCHMARKS.md)."""
    logging._srcfile = None  # no stack walk for file and line
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def send_logs_to(stream_name: Literal["stdout", "stderr"]) -> None:
    """Servers log to stdout (the default); CLI commands to stderr, as stdout is their output."""
    _process_handler().stream_name = stream_name

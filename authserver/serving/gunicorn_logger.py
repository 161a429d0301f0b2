"""gunicorn's own messages (master and workers) as our log lines; its access log stays off.

gunicorn would write its messages to stderr in a format of its own, and its access log would
write each request's full URL, query string and emailed-link tokens included. This logger
hands gunicorn's messages to the root logger instead (observability/logging.py: JSON, redacted)
and writes no access lines: the app writes one line per request itself (request_log.py).

gunicorn quotes a request it could not parse ("Invalid request from ip=...: Invalid HTTP
request line: 'GET /path?query HTTP/1.1'"). The query string goes from those lines, as it goes
from the app's own request lines: parameters under any name (a client's mistake, a scanner's
probe) may hold tokens, and only the common names would be caught by the redaction step.

Used through the `logger_class` setting of authserver/serving/gunicorn_config.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging

# A request target's query: from "?" to the next whitespace (a quote may be part of it).
_QUERY = re.compile(r"\?\S*")
QUERY_REMOVED = "?[redacted]"


def _without_query_strings(record: logging.LogRecord) -> bool:
    """logging filter: gunicorn's message with every request target's query taken out."""
    message = record.getMessage()
    if "?" in message:
        record.msg, record.args = _QUERY.sub(QUERY_REMOVED, message), None
    return True


class GunicornLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def setup(self, cfg: Any) -> None:  # Any: gunicorn's Config
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):  # the handlers gunicorn made
                    log.removeHandler(handler)
        self.error_log.propagate = True
        self.error_log.addFilter(_without_query_strings)

    @property
    def access_log_enabled(self) -> bool:
        # gunicorn's protocol handlers skip building access data when this is False.
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None

"""gunicorn's own messages (master and workers) as our log lines; its access log stays off.

gunicorn would write its messages to stderr in a format of its own, and its access log would
write each request's full URL, query string and emailed-link tokens included. This logger
hands gunicorn's messages to the root logger instead (observability/logging.py: JSON, redacted)
and writes no access lines: the app writes one line per request itself (request_log.py).

Used through the `logger_class` setting of authserver/cli/gunicorn_config.py.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging


class GunicornLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def setup(self, cfg: Any) -> None:  # Any: gunicorn's Config
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):  # the handlers gunicorn made
                    log.removeHandler(handler)
        self.error_log.propagate = True

    @property
    def access_log_enabled(self) -> bool:
        # gunicorn's protocol handlers skip building access data when this is False.
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None

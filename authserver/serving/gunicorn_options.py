"""The gunicorn settings `authserver serve` runs with, derived from the AUTHSERVER_* settings.

Pure: authserver/serving/gunicorn_config.py (the module gunicorn loads) applies them.
"""

from __future__ import annotations

from authserver.config import Settings
from authserver.serving.gunicorn_logger import GunicornLogger

# Limits on the request head, enforced by gunicorn before the app sees anything. The longest
# URL we serve is an authorization or logout request (an id_token_hint is about 1 KiB); cookies
# are the largest header.
LIMIT_REQUEST_LINE = 4094  # bytes of "GET /path?query HTTP/1.1"
LIMIT_REQUEST_FIELDS = 64  # header lines; browsers send about 20, proxies add a few
LIMIT_REQUEST_FIELD_SIZE = 8190  # bytes of one header line
# Connections one gevent worker holds open at once (gunicorn's default, stated here): slow
# clients cost a socket and a greenlet each, not a worker; past this the worker stops accepting.
WORKER_CONNECTIONS = 1000
JITTER_FRACTION = 10  # max_requests varies by up to a tenth, so workers do not restart together


def gunicorn_options(settings: Settings) -> dict[str, object]:
    """gunicorn setting names and values for these settings."""
    return {
        "workers": settings.workers,
        "worker_class": settings.worker_class,
        "threads": settings.threads,
        "worker_connections": WORKER_CONNECTIONS,
        "timeout": settings.worker_timeout,
        "graceful_timeout": settings.graceful_timeout,
        "keepalive": settings.keepalive,
        "max_requests": settings.max_requests,
        "max_requests_jitter": settings.max_requests // JITTER_FRACTION,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        # Our JSON lines for gunicorn's messages; no access log (the app logs each request).
        "logger_class": GunicornLogger,
        "loglevel": settings.log_level.lower(),
        "accesslog": None,
        # Gunicorn's control socket lives in $HOME; we do not use it, and the container's root
        # filesystem is read-only.
        "control_socket_disable": True,
    }

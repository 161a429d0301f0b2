"""Running under gunicorn (`authserver serve`): its configuration, logger and metrics hooks, the
per-request time limit, work run after a response has gone out, what each worker prepares as it
starts (the JWKS) and its background work (back-channel logout delivery), and keeping a gevent
worker's event loop free (PostgreSQL waits, argon2).

Attached last, so its WSGI middleware wraps everything else: the per-request time limit covers
the whole request, the other middlewares included.
"""

from __future__ import annotations

from flask import Flask

from authserver.serving import cooperative_database, request_deadline


def init_app(app: Flask) -> None:
    cooperative_database.make_psycopg_cooperative()
    request_deadline.init_app(app)

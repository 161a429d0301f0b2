"""gunicorn worker hooks: what each worker process prepares as it starts, and its background work.

As it starts, a worker builds the JWKS (keys/jwks.py), which it then serves from memory even
while the database is away. In the background it runs the back-channel logout delivery loop
(backchannel/worker.py): every worker runs one, so a server delivers as long as any worker
lives, and instances share the outbox through the database. gunicorn calls
``post_worker_init`` in the worker after it has loaded the app (and, under gevent, after the
monkey-patching), and ``worker_exit`` as the worker stops. gunicorn logs "Booting worker" as
it forks one; "worker ready" here says when it has loaded the app and begins to serve, and
whether it holds the JWKS already (``jwks``: "built", or "not built" with the database away).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from authserver.backchannel.worker import start_delivery_worker, stop_delivery_worker
from authserver.keys.jwks import build_before_serving

log = logging.getLogger(__name__)
READY_MESSAGE = "worker ready"


def post_worker_init(worker: Any) -> None:  # Any: gunicorn's Worker (untyped)
    app = worker.wsgi
    ready: dict[str, object] = {"pid": os.getpid()}
    if isinstance(app, Flask):  # `wsgi:app`; a hand-made gunicorn setup may serve another
        ready["jwks"] = "built" if build_before_serving(app) else "not built"
        start_delivery_worker(app)
    log.info(READY_MESSAGE, extra=ready)


def worker_exit(server: Any, worker: Any) -> None:  # Any: gunicorn's Arbiter and Worker
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        stop_delivery_worker(app)

"""gunicorn worker hooks for the work each worker process does in the background.

Today that is the back-channel logout delivery loop (backchannel/worker.py): every worker runs
one, so a server delivers as long as any worker lives, and instances share the outbox through
the database. gunicorn calls ``post_worker_init`` in the worker after it has loaded the app
(and, under gevent, after the monkey-patching), and ``worker_exit`` as the worker stops.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from authserver.backchannel.worker import start_delivery_worker, stop_delivery_worker


def post_worker_init(worker: Any) -> None:  # Any: gunicorn's Worker (untyped)
    app = worker.wsgi
    if isinstance(app, Flask):  # `wsgi:app`; a hand-made gunicorn setup may serve another
        start_delivery_worker(app)


def worker_exit(server: Any, worker: Any) -> None:  # Any: gunicorn's Arbiter and Worker
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        stop_delivery_worker(app)

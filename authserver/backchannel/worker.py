"""The background loop that delivers the outbox, one per `serve` worker process.

Started by gunicorn's ``post_worker_init`` hook (serving/background_work.py), after the worker
has loaded the app: a thread under the sync and gthread workers, a greenlet under gevent (its
threading is patched), so it shares the process with requests but never delays one. Every
POLL_SECONDS it runs one :func:`deliver_due` pass in an app context of its own; any number of
these loops on any number of instances share the outbox safely (delivery.py). A pass that fails
is logged and the loop goes on: a database outage is logged once by outages.py, anything else
with its traceback.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from authserver.backchannel.delivery import deliver_due
from authserver.database_faults import is_database_outage
from authserver.extensions import discard_failed_transaction

log = logging.getLogger(__name__)

# A logout reaches relying parties within about this long (the brief's bound is 10 s); an idle
# pass is one indexed SELECT per process.
POLL_SECONDS = 1.0
_EXTENSION = "authserver.logout_delivery_worker"


class DeliveryWorker:
    def __init__(self, app: Flask, *, interval: float = POLL_SECONDS) -> None:
        self.app = app
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logout-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        """Let the attempt in progress finish (its timeout bounds it), then end the loop."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> None:
        with self.app.app_context():
            try:
                deliver_due()
            except SQLAlchemyError as exc:
                discard_failed_transaction()
                if not is_database_outage(exc):
                    log.exception("logout delivery pass failed")
            except Exception:
                # The loop must outlive a bug in one pass, or logouts silently stop for good.
                log.exception("logout delivery pass failed")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self.interval)


def start_delivery_worker(app: Flask, *, interval: float = POLL_SECONDS) -> DeliveryWorker:
    """Start the loop for ``app`` (once per app: a second call returns the running one)."""
    running: DeliveryWorker | None = app.extensions.get(_EXTENSION)
    if running is not None:
        return running
    worker = DeliveryWorker(app, interval=interval)
    app.extensions[_EXTENSION] = worker
    worker.start()
    return worker


def stop_delivery_worker(app: Flask) -> None:
    worker: DeliveryWorker | None = app.extensions.pop(_EXTENSION, None)
    if worker is not None:
        worker.stop()

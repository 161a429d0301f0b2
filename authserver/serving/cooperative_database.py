"""Under gunicorn's gevent worker, psycopg waits for PostgreSQL through gevent's event loop.

psycopg chooses how to wait for the server's answers once, when it is first imported: a wait in
C (the fastest) unless gevent has already patched ``select``. gunicorn's master imports our
configuration, and psycopg with it, before the gevent worker patches anything, so each worker
inherited the C wait. A greenlet waiting for PostgreSQL then held its whole worker: every other
request of the worker stopped until the database answered, the one holding the awaited lock
included (20 refreshes of one token at once hung for seconds: the second waited for the family
row lock of the first, which could never run on to commit), and the per-request deadline,
which fires only at a wait that yields, could not end it.

:func:`make_psycopg_cooperative` (run by the package's ``init_app``) switches psycopg, in a
gevent worker only, to the wait it picks by itself when it finds ``select`` patched: ``poll``,
which gevent has made cooperative.
"""

from __future__ import annotations

import logging
import select

from authserver.serving.request_deadline import is_gevent_worker

log = logging.getLogger("authserver.serving")


def make_psycopg_cooperative() -> None:
    """In a gevent worker, have psycopg wait through gevent (module docstring). Idempotent."""
    if not is_gevent_worker():
        return
    import psycopg.waiting as waiting

    cooperative = waiting.wait_poll if hasattr(select, "poll") else waiting.wait_select
    if waiting.wait is not cooperative:
        waiting.wait = cooperative
        log.debug("psycopg waits through gevent (%s)", cooperative.__name__)

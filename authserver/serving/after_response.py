"""Work run once a response has gone out, so that its duration never shows in the answer.

The WSGI server calls the response's ``close()`` after writing its last byte; work registered
here runs then. Used for mail (an SMTP round trip is slow, and taken only for some requests)
and for work whose very duration would tell something (a password reset asked for an address
that may or may not have an account).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from authserver.database_faults import database_unavailability
from authserver.extensions import discard_failed_transaction
from authserver.mail_language import carried_page_language, page_language
from authserver.observability.request_id import carried_request_id, current_request_id

log = logging.getLogger(__name__)


def run_after_response(response: Response, work: Callable[[], None]) -> None:
    """Call ``work`` once ``response`` has been written to the client.

    By then the request's app context is gone; the work gets one of its own, carrying the
    request id into its log lines and audit rows. The database being away or busy there is
    logged in one line and goes no further: the person already has their answer, and asking
    again is the remedy.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # the real app
    request_id = current_request_id()
    language = page_language()

    def run() -> None:
        with app.app_context(), carried_request_id(request_id), carried_page_language(language):
            try:
                work()
            except SQLAlchemyError as exc:
                discard_failed_transaction()
                unavailable = database_unavailability(exc)
                if unavailable is None:
                    raise  # a bug, not an outage: the server logs it with its traceback
                log.error("work after the response not done: %s", unavailable.reason)

    response.call_on_close(run)

"""Outgoing mail: one function, three backends (smtp, console, file), chosen by configuration.

Messages are plain text. Bodies may carry single-use links (password reset, unlock), so the
console backend, which prints them, is refused in production, and the file backend writes
files only its own user can read.

Services build a :class:`Mail` (text from ``templates/mail/``); views hand it to
:func:`send_after_response`, commands to :func:`send`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import Flask, after_this_request, current_app, has_request_context, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from authserver.config import Settings, current_settings
from authserver.database_faults import database_unavailability
from authserver.extensions import discard_failed_transaction
from authserver.observability.request_id import carried_request_id, current_request_id

log = logging.getLogger(__name__)


class MailDeliveryError(Exception):
    """The message could not be handed over; the reason is logged, never shown to users."""


@dataclass(frozen=True)
class Mail:
    """A message ready to go. Its body may hold a single-use link: never log it."""

    to: str
    subject: str
    body: str


def render_mail(to: str, subject: str, template: str, **context: object) -> Mail:
    """A message whose body is the plain-text template ``templates/mail/<template>``."""
    return Mail(to=to, subject=subject, body=render_template(f"mail/{template}", **context))


def send(mail: Mail) -> None:
    send_mail(mail.to, mail.subject, mail.body)


def send_after_response(response: Response, mail: Mail | None) -> None:
    """Send ``mail`` (if any) once ``response`` has been written to the client.

    The WSGI server calls the response's ``close()`` after its last byte has gone out, so an SMTP
    round trip (slow, and taken only for some requests) never shows in the response time. A
    failure is logged by :func:`send_mail` and goes no further: the response has already been
    sent.
    """
    if mail is not None:
        prepare_and_send_after_response(response, lambda: mail)


def prepare_and_send_after_response(response: Response, prepare: Callable[[], Mail | None]) -> None:
    """Call ``prepare`` once ``response`` has been written, then send the mail it returns, if any.

    For work whose very duration must not show in the answer (a reset asked for an address that
    may or may not have an account). By then the request's app context is gone; the work gets
    one of its own, carrying the request id into its log lines and audit rows. The database
    being away or busy there is logged and goes no further: the person already has their
    answer, and asking again is the remedy, as for an undelivered message.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # the real app
    request_id = current_request_id()

    def prepare_and_send() -> None:
        with app.app_context(), carried_request_id(request_id):
            try:
                mail = prepare()
            except SQLAlchemyError as exc:
                discard_failed_transaction()
                unavailable = database_unavailability(exc)
                if unavailable is None:
                    raise  # a bug, not an outage: the server logs it with its traceback
                log.error("work after the response not done: %s", unavailable.reason)
                return
            if mail is not None:
                with contextlib.suppress(MailDeliveryError):
                    send(mail)

    response.call_on_close(prepare_and_send)


def send_after_this_request(mail: Mail) -> None:
    """:func:`send_after_response` for services, which have no response at hand.

    Outside a request (a command), the message is sent at once. Either way a failure is logged
    by :func:`send_mail` and goes no further.
    """
    if not has_request_context():
        with contextlib.suppress(MailDeliveryError):
            send(mail)
        return

    @after_this_request
    def defer(response: Response) -> Response:
        send_after_response(response, mail)
        return response


def send_mail(to: str, subject: str, body: str) -> None:
    settings = current_settings()
    message = build_message(settings.mail_from, to, subject, body)
    deliver = {"smtp": _deliver_smtp, "console": _deliver_console, "file": _deliver_file}
    try:
        deliver[settings.mail_backend](message, settings)
    except (OSError, smtplib.SMTPException) as exc:
        # The address and the reason are logged; the body (it may hold a link) never is.
        log.error("mail to %s not delivered: %s", to, type(exc).__name__)
        raise MailDeliveryError(type(exc).__name__) from exc
    log.info("mail sent to %s: %s", to, subject)


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def _deliver_smtp(message: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


def _deliver_console(message: EmailMessage, settings: Settings) -> None:
    # Development only (refused in production at start-up): the developer reads the link here.
    # stderr, because stdout belongs to a command's own output (`user create --json` sends mail).
    sys.stderr.write(f"----- mail (console backend) -----\n{message.as_string()}\n")
    sys.stderr.flush()


def mail_directory(settings: Settings) -> Path:
    return Path(settings.mail_file_dir or Path(settings.instance_path) / "mail")


def _deliver_file(message: EmailMessage, settings: Settings) -> None:
    folder = mail_directory(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = (
        f"{formatdate(usegmt=True).replace(' ', '_').replace(':', '')}-{secrets.token_hex(6)}.eml"
    )
    descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(message.as_bytes())

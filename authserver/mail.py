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
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import after_this_request, has_request_context, render_template
from flask_babel import LazyString, force_locale
from werkzeug.wrappers import Response

from authserver.branding.context import branded_subject
from authserver.config import Settings, current_settings
from authserver.serving.after_response import run_after_response

log = logging.getLogger(__name__)


class MailDeliveryError(Exception):
    """The message could not be handed over; the reason is logged, never shown to users."""


@dataclass(frozen=True)
class Mail:
    """A message ready to go. Its body may hold a single-use link: never log it."""

    to: str
    subject: str
    body: str


def render_mail(
    to: str, subject: str | LazyString, template: str, *, language: str, **context: object
) -> Mail:
    """A message in ``language`` (mail_language.py) whose body is the plain-text template
    ``templates/mail/<template>``; ``subject`` is a lazy translation, rendered here.

    Every message says who sent it: the subject starts with the service's name, and the body
    ends with its signature (``templates/mail/_signature.txt``), both from authserver/branding/.
    """
    with force_locale(language):
        body = render_template(f"mail/{template}", **context).rstrip()
        signature = render_template("mail/_signature.txt")
        return Mail(to=to, subject=branded_subject(str(subject)), body=f"{body}\n\n{signature}\n")


def send(mail: Mail) -> None:
    send_mail(mail.to, mail.subject, mail.body)


def send_after_response(response: Response, mail: Mail | None) -> None:
    """Send ``mail`` (if any) once ``response`` has been written to the client.

    An SMTP round trip (slow, and taken only for some requests) then never shows in the response
    time. A failure is logged by :func:`send_mail` and goes no further: the response has already
    been sent.
    """
    if mail is not None:
        run_after_response(response, lambda: send_best_effort(mail))


def send_best_effort(mail: Mail) -> None:
    """Send ``mail``; a failure is logged by :func:`send_mail` and goes no further."""
    with contextlib.suppress(MailDeliveryError):
        send(mail)


def send_after_this_request(mail: Mail) -> None:
    """:func:`send_after_response` for services, which have no response at hand.

    Outside a request (a command), the message is sent at once. Either way a failure is logged
    by :func:`send_mail` and goes no further.
    """
    if not has_request_context():
        send_best_effort(mail)
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

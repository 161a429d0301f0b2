"""Reading what our SMTP server received: message text, the one link in it, waiting for mail.

`SlowInbox` answers DATA only after a delay, to show which requests wait for the mail.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from tests.conftest import AppFactory
from tests.support.smtp import Inbox, free_port

_URL = re.compile(r"https?://\S+")


def smtp_app(app: Flask, make_app: AppFactory, inbox: Inbox, **settings: Any) -> Flask:
    """An app on the test database that mails through `inbox`.

    It shares `app`'s encryption keys, so each can read the signing keys the other made.
    """
    return make_app(
        mail_backend="smtp",
        smtp_host=inbox.host,
        smtp_port=inbox.port,
        smtp_starttls=False,
        encryption_keys=app.extensions["authserver.settings"].encryption_keys,
        **settings,
    )


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes), "expected a single-part text message"
    return payload.decode(message.get_content_charset() or "utf-8")


def link_in(message: Message, prefix: str) -> str:
    """The one URL in the message that starts with `prefix`."""
    links = [url for url in _URL.findall(text_of(message)) if url.startswith(prefix)]
    assert len(links) == 1, f"expected one link starting {prefix!r}:\n{text_of(message)}"
    return links[0]


def has_subject(message: Message, subject: str) -> bool:
    """Whether the message's subject is `subject` after the service's name ("<brand>: ...").

    Tests of the name itself (tests/branding/) compare whole subjects.
    """
    return str(message["Subject"]).partition(": ")[2] == subject


def wait_for_messages(inbox: Inbox, count: int, *, timeout: float = 10.0) -> list[Message]:
    """The inbox once it holds `count` messages (mail sent after a response arrives later)."""
    deadline = time.monotonic() + timeout
    while len(inbox.messages) < count:
        assert time.monotonic() < deadline, f"{len(inbox.messages)} of {count} messages arrived"
        time.sleep(0.05)
    return list(inbox.messages)


@dataclass
class SlowInbox(Inbox):
    delay_seconds: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay_seconds)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_smtp_server() -> Iterator[SlowInbox]:
    """Like tests.support.smtp.smtp_server(), with a delay the test may change at any time."""
    inbox = SlowInbox(host="127.0.0.1", port=free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def wait_for_mail(inbox: Inbox, *, to: str, subject: str, timeout: float = 10.0) -> Message:
    """The first message to `to` with `subject`; mail is sent after the response, so wait."""
    deadline = time.monotonic() + timeout
    while True:
        for message in list(inbox.messages):
            if message["To"] == to and has_subject(message, subject):
                return message
        assert time.monotonic() < deadline, f"no message {subject!r} to {to} within {timeout}s"
        time.sleep(0.05)

"""The owner's mail when a passkey's signature counter went backwards (a copied passkey?)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from authserver.config import current_settings
from authserver.mail import render_mail, send_after_this_request
from authserver.mail_language import mail_language, written_time
from authserver.models import User

COUNTER_SUBJECT = _l("A sign-in with a copied passkey may have been tried")


def mail_counter_notice(owner: User, *, passkey_name: str, now: datetime) -> None:
    """Mail the owner once the response has gone out; the caller has audited it."""
    settings = current_settings()
    send_after_this_request(
        render_mail(
            owner.email,
            COUNTER_SUBJECT,
            "passkey_counter.txt",
            language=mail_language(owner.language),
            email=owner.email,
            name=passkey_name,
            when=written_time(now),
            account_link=settings.issuer + "/account",
            forgot_link=settings.issuer + "/reset",
        )
    )

"""Telling the owner about a sign-in from a browser new to the account (issue 13).

A sign-in that completes (the password, and the second factor when the account has one) in a
browser that is not a recognised device of the account (security/devices.py: no device cookie
entry for it, or one whose database row is gone) mails the owner, once the response has gone
out: when (UTC), the approximate browser and system (sessions/user_agents.py), the IP address
as the app sees it (behind trusted proxies: edges/proxies.py) and a single-use "This wasn't
me" link (accounts/not_me.py). The same sign-in gives the browser its device cookie, so the
next sign-in from it is recognised: at most one mail per device.

No mail for an account's very first sign-in: whoever was just given the account (sign-up, an
invitation, an operator's ``user create``) would only be told about themselves. The first is
``users.first_sign_in_at`` going from NULL to a time, by one conditional UPDATE, so of two
sign-ins racing on a new account exactly one is the first, on any number of instances. Device
rows would not do: they expire, and "This wasn't me" forgets them on purpose.
``AUTHSERVER_NEW_DEVICE_ALERTS=false`` turns the notices off (the first sign-in is still noted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, update

from authserver.accounts.emailed_links import LinkPurpose, link_url, store_new_link
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import render_mail, send_after_this_request
from authserver.mail_language import mail_language, written_time
from authserver.models import NotMeToken, User
from authserver.sessions.user_agents import describe_device, device_label

NEW_DEVICE_SUBJECT = _l("New sign-in to your account")
# Long enough for someone who reads mail once a day; the link only protects the account.
NOT_ME_LINK_LIFETIME = timedelta(hours=24)


def note_completed_sign_in(
    user: User, *, now: datetime, recognised: bool, password_used: bool = True
) -> bool:
    """After every factor passed: mail a new-device notice if this browser is new to a
    not-new account. Stages the link and the audit row in the caller's transaction (the
    caller commits, with the session); the mail goes after the response. Returns whether
    a notice was mailed. ``password_used`` False (a passkey alone) makes the mail speak of
    passkeys, not of a password someone knows."""
    first = _claim_first_sign_in(user.id, now=now)
    if first or recognised or not has_request_context():
        return False
    if not current_settings().new_device_alerts:
        return False
    user_agent = request.headers.get("User-Agent")
    device = describe_device(user_agent)  # the audit trail's English
    ip = request.remote_addr or "unknown"
    token = store_new_link(
        NotMeToken,
        LinkPurpose.NOT_ME,
        user.id,
        now=now,
        expires_at=now + NOT_ME_LINK_LIFETIME,
        # Each notice keeps its own link: the owner may act on an older one.
        replace_earlier=False,
    )
    record_event(EventTag.NEW_DEVICE_NOTICE, user_subject=user.subject, detail={"device": device})
    send_after_this_request(
        render_mail(
            user.email,
            NEW_DEVICE_SUBJECT,
            "new_device.txt",
            language=mail_language(user.language),
            email=user.email,
            when=written_time(now),
            device=device_label(user_agent),  # rendered in the recipient's language
            ip=ip,
            link=link_url(LinkPurpose.NOT_ME, token),
            hours=int(NOT_ME_LINK_LIFETIME.total_seconds() // 3600),
            password_used=password_used,
        )
    )
    return True


def _claim_first_sign_in(user_id: int, *, now: datetime) -> bool:
    """Whether this is the account's first completed sign-in (it is no longer, after this)."""
    claimed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(User)
            .where(User.id == user_id, User.first_sign_in_at.is_(None))
            # Signing in is not a change to the account: users.updated_at must not move.
            .values(first_sign_in_at=now, updated_at=User.updated_at)
            .execution_options(synchronize_session=False)
        ),
    )
    return claimed.rowcount == 1

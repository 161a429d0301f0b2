"""After a recovery code signed someone in: how many are left, and a mail to the owner.

A recovery code is the fallback for a lost phone, so its use is worth knowing about: the page
after the sign-in (web/mfa.py) says how many codes remain, and what to do when none do, and the
owner is mailed (after the response, as every notice: security/sign_in_notices.py), so a
sign-in by someone holding the password and a stolen code does not go unseen.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from authserver.config import current_settings
from authserver.mail import render_mail, send_after_this_request
from authserver.mail_language import mail_language, written_time
from authserver.models import User
from authserver.security.mfa.codes import parse_submitted_code
from authserver.security.mfa.second_factor import count_unused_recovery_codes

# The account's MFA page (web/mfa_setup.py), where new codes are made.
SETUP_PATH = "/account/mfa"


def recovery_codes_left_after(user: User, code: str, *, now: datetime) -> int | None:
    """For a sign-in (or step-up) that just passed with ``code``: when it was a recovery code,
    mail the owner and return how many are left; None when it was a code from the app."""
    if not parse_submitted_code(code).is_recovery_code:
        return None
    remaining = count_unused_recovery_codes(user.id)
    settings = current_settings()
    send_after_this_request(
        render_mail(
            user.email,
            _l("A recovery code was used to sign in to your account"),
            "recovery_code_used.txt",
            language=mail_language(user.language),
            email=user.email,
            when=written_time(now),
            remaining=remaining,
            setup_link=settings.issuer + SETUP_PATH,
        )
    )
    return remaining

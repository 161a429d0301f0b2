"""The self-service unlock link mailed when sign-in to an account is locked.

GET shows a confirmation page and changes nothing (mail scanners fetch links); the button POSTs
the token (with a CSRF token) and that spends it.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from authserver.accounts.emailed_links import LINK_PATHS, LinkPurpose
from authserver.models.types import utcnow
from authserver.security.lockout import is_unlock_token_valid, unlock_with_token
from authserver.web.forms import UnlockForm

bp = Blueprint("unlock", __name__)

UNLOCK_PATH = LINK_PATHS[LinkPurpose.UNLOCK]

# The page's URL holds the token: no Referer may carry it anywhere, and no cache may keep it.
PRIVATE_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.get(UNLOCK_PATH + "<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    if not is_unlock_token_valid(token, now=utcnow()):
        return render_template("unlock.html", state="invalid"), 404, PRIVATE_PAGE_HEADERS
    form = UnlockForm(token=token)
    return render_template("unlock.html", state="confirm", form=form), 200, PRIVATE_PAGE_HEADERS


@bp.post(UNLOCK_PATH.rstrip("/"))
def unlock_submit() -> ResponseReturnValue:
    form = UnlockForm()
    if not form.validate_on_submit() or not unlock_with_token(form.token.data, now=utcnow()):
        return render_template("unlock.html", state="invalid"), 400, PRIVATE_PAGE_HEADERS
    return render_template("unlock.html", state="done"), 200, PRIVATE_PAGE_HEADERS

"""Who may make an account (``AUTHSERVER_REGISTRATION``) and how each account came to be.

- ``closed`` (the default): only operators, with ``user create``. The sign-up and invitation
  pages answer 404 and ``user invite`` refuses.
- ``invite``: also whoever holds an invitation link (``user invite``, accounts/invitations.py).
- ``open``: invitations, and a sign-up form linked from the sign-in page.

``users.created_via`` records the way: one of :data:`ORIGINS`.
"""

from __future__ import annotations

from authserver.config import current_settings

CLI = "cli"
INVITATION = "invitation"
SIGN_UP = "sign-up"
ORIGINS = (CLI, INVITATION, SIGN_UP)


def invitations_allowed() -> bool:
    return current_settings().registration in ("invite", "open")


def sign_up_open() -> bool:
    return current_settings().registration == "open"

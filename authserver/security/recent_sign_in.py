"""Changes that need a session which signed in a short while ago, instead of a secret.

Adding a passkey, and for an account without a password setting one or deleting the account,
ask for no current secret (there may be none to ask for), so the session itself must be
fresh: an open browser left behind, or a stolen cookie, cannot plant a way in or remove one.
Signing in again (with a passkey, say) makes it fresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from authserver.security.errors import RecentSignInNeeded

RECENT_SIGN_IN = timedelta(minutes=10)


def check_recent_sign_in(auth_time: datetime, *, now: datetime) -> None:
    """Raises RecentSignInNeeded unless the session signed in within :data:`RECENT_SIGN_IN`."""
    if now - auth_time > RECENT_SIGN_IN:
        raise RecentSignInNeeded("sign in again to make this change")

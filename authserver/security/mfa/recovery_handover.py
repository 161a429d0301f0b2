"""Handing over new recovery codes: shown once, then confirmed saved before going on.

The server keeps only the codes' hashes (security/mfa/second_factor.py), so the page that
shows them is the only copy. Copying and downloading happen in that page (templates/static/
mfa.js makes the ``.txt`` file from the page's own text, as a Blob): a download route would
have to keep the plaintext codes somewhere to serve them later, which is exactly what the
hashes avoid.

The page's "I have saved them" form must be confirmed before the browser goes on to where it
was headed. It carries the codes sealed (security/crypto.py) for the session that saw them, for
an hour: a submission without the confirmation gets the same codes shown again with the error,
instead of a page that has lost them; a sealed value from another session, or an old one,
opens nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authserver.security import crypto
from authserver.security.errors import DecryptionError, SecurityError

# Long enough to find a password manager and save the codes in it.
HANDOVER_LIFETIME = timedelta(hours=1)


class RecoveryCodesNotConfirmed(SecurityError):
    """The "I have saved them" box was not ticked: show the codes again."""

    def __init__(self, handover: Handover) -> None:
        super().__init__("the recovery codes were not confirmed as saved")
        self.handover = handover


class HandoverExpired(SecurityError):
    """The sealed codes are from another session, too old or not ours: nothing to show."""


@dataclass(frozen=True)
class Handover:
    """New recovery codes on their way to the person, and their sealed copy for the form."""

    codes: list[str]
    sealed: str


def hand_over(codes: list[str], *, sid: str, now: datetime) -> Handover:
    """The codes to show in the session ``sid``, with their sealed copy for the confirm form."""
    payload = json.dumps({"codes": codes, "iat": now.timestamp()}).encode()
    sealed = crypto.encrypt(payload, purpose=_purpose(sid))
    return Handover(codes, base64.urlsafe_b64encode(sealed).decode("ascii"))


def confirm_saved(sealed: str, *, is_confirmed: bool, sid: str, now: datetime) -> None:
    """Accept the "I have saved them" step of the session ``sid``.

    Raises HandoverExpired when ``sealed`` does not open for this session within the lifetime
    (the codes themselves still work: the account page makes new ones), and
    RecoveryCodesNotConfirmed, with the codes to show again, when the box was not ticked.
    """
    handover = _reopen(sealed, sid=sid, now=now)
    if not is_confirmed:
        raise RecoveryCodesNotConfirmed(handover)


def _reopen(sealed: str, *, sid: str, now: datetime) -> Handover:
    try:
        payload: Any = json.loads(  # Any: checked field by field below
            crypto.decrypt(base64.urlsafe_b64decode(sealed.encode("ascii")), purpose=_purpose(sid))
        )
    except (DecryptionError, binascii.Error, UnicodeEncodeError, ValueError):
        raise HandoverExpired("the recovery codes cannot be shown again") from None
    if not isinstance(payload, dict):
        raise HandoverExpired("the recovery codes cannot be shown again")
    codes, issued = payload.get("codes"), payload.get("iat")
    if not isinstance(codes, list) or not isinstance(issued, int | float):
        raise HandoverExpired("the recovery codes cannot be shown again")
    if not now.timestamp() - HANDOVER_LIFETIME.total_seconds() <= issued <= now.timestamp():
        raise HandoverExpired("the recovery codes cannot be shown again")
    return Handover([str(code) for code in codes], sealed)


def _purpose(sid: str) -> str:
    # Bound to the session that was shown the codes: no other browser can open the copy.
    return f"recovery-codes-shown:{sid}"

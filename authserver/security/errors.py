"""Domain exceptions of the security package.

Messages say what went wrong; never a password, a key, a plaintext or a ciphertext.
"""

from __future__ import annotations

from flask_babel import gettext


class SecurityError(Exception):
    """Base class for this package's errors."""


class DecryptionError(SecurityError):
    """A ciphertext could not be opened (unknown key, tampering, wrong purpose, malformed)."""


class UnknownEncryptionKey(DecryptionError):
    """The ciphertext was made with a key that is not in AUTHSERVER_ENCRYPTION_KEYS."""


class PasswordPolicyError(SecurityError):
    """A new password breaks the policy; the message says which rules, for the person choosing it.

    ``problems`` holds each broken rule on its own (forms show one message per rule).
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InvalidEmail(SecurityError):
    """An e-mail address does not have the shape of one."""


class InvalidName(SecurityError):
    """A display name is too long to store."""


class EmailAlreadyRegistered(SecurityError):
    """Another account already uses this e-mail address."""


class RegistrationClosed(SecurityError):
    """``AUTHSERVER_REGISTRATION`` does not allow this way of making an account."""


class UnknownUser(SecurityError):
    """No account matches; raised by ``get_*`` look-ups (``find_*`` return None instead)."""


class InvalidCredentials(SecurityError):
    """Sign-in failed. One exception for every reason, so callers cannot tell them apart."""

    def __init__(self) -> None:
        super().__init__("the email address or password is incorrect")


class WrongPassword(SecurityError):
    """A signed-in user's current password, asked again before a sensitive change, is wrong."""

    def __init__(self) -> None:
        super().__init__("the current password is incorrect")


class InvalidLink(SecurityError):
    """An emailed single-use link cannot be used: unknown, already used, expired or superseded.

    One exception (and one message) for every reason: the page only needs to say "ask for a new
    link", and the reason is recorded in the audit event instead.
    """

    def __init__(self, reason: str, *, user_subject: str | None = None) -> None:
        super().__init__("this link is not valid: it may have expired or been used already")
        # For the audit trail, never for the page.
        self.reason = reason
        self.user_subject = user_subject


class EmailAlreadyVerified(SecurityError):
    """A verification link was asked for an address that is verified already."""


class MfaError(SecurityError):
    """Base class for second-factor problems; messages are fit to show to the account owner."""


class InvalidMfaCode(MfaError):
    """The code is not a current authenticator code or an unused recovery code of this user."""

    def __init__(self) -> None:
        super().__init__("that code is not valid")


class MalformedMfaCode(MfaError):
    """The input does not have the shape of a code this field takes (nothing was checked)."""

    def __init__(self, message: str | None = None) -> None:
        # In the page's language (English in a command): the account pages show it.
        default = gettext(
            "enter the 6-digit code from your authenticator app, or one of your recovery codes"
        )
        super().__init__(message or default)


class MfaAlreadyEnrolled(MfaError):
    """The user already has an authenticator app; it must be removed before another is set up."""


class MfaNotEnrolled(MfaError):
    """The user has no active authenticator app."""


class PendingSignInInvalid(MfaError):
    """The password step this second factor would complete has expired or was already used."""


class TooManyAttempts(SecurityError):
    """A step that asks for the password again is locked after too many wrong attempts."""

    def __init__(self) -> None:
        super().__init__("too many wrong attempts; try again later")


class InvalidRole(SecurityError):
    """A role name does not have the shape of one."""


class RoleAlreadyAssigned(SecurityError):
    """The user already has this role."""


class RoleNotAssigned(SecurityError):
    """The user does not have this role."""


class AccountStateUnchanged(SecurityError):
    """An administrator asked for a state the account is in already (disable a disabled one)."""


class RateLimited(SecurityError):
    """A request went over one of its group's limits (security/rate_limits.py): a 429.

    ``retry_after_seconds`` is when the broken limit admits a request again, for the answer's
    Retry-After (RFC 6585 §4). The message names the group only, never who was counted.
    """

    def __init__(self, group: str, *, retry_after_seconds: int) -> None:
        super().__init__(f"too many {group} requests")
        self.group = group
        self.retry_after_seconds = retry_after_seconds


class PasskeyError(SecurityError):
    """A passkey ceremony failed; the message is safe to show, the reason is in the audit row."""


class PasskeyRefused(PasskeyError):
    """The browser's answer was not accepted (unknown passkey, wrong origin or RP id, no user
    verification, a used or expired challenge, a bad signature, a counter gone backwards)."""


class UnknownPasskey(PasskeyError):
    """No passkey with that id belongs to this user."""


class RecentSignInNeeded(PasskeyError):
    """A change that needs a session signed in a few minutes ago: adding a passkey, and for an
    account without a password, setting one or deleting the account."""


class LastWayIn(PasskeyError):
    """The passkey is the only way into an account without a password: removing it from the
    account page would lock the owner out (an operator may, with ``user passkeys remove``)."""

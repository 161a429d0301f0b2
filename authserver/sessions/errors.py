"""Domain exceptions of the sessions package."""

from __future__ import annotations


class SessionError(Exception):
    """Base class for this package's errors."""


class SessionStoreUnavailable(SessionError):
    """The session store cannot be reached (Redis down or too slow).

    Sessions fail closed: a request whose session cannot be looked up is treated as signed out,
    and nothing that needs to write a session (sign-in, sign-out) pretends to have done it.
    The message names the failure's type only, never a key or a token.
    """


class UnknownSession(SessionError):
    """The user has no live session with this id (it ended, or it is someone else's)."""

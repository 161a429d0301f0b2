"""Domain exceptions of the sessions package."""

from __future__ import annotations


class SessionError(Exception):
    """Base class for this package's errors."""


class UnknownSession(SessionError):
    """The user has no live session with this id (it ended, or it is someone else's)."""

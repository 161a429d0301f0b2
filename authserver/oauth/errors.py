"""Domain errors of the oauth package (protocol errors are Authlib's OAuth2Error subclasses)."""

from __future__ import annotations


class ClientRegistrationError(ValueError):
    """A client's registration data is invalid; each problem says which field and why."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownClient(LookupError):
    """No client has this client_id."""


class UnknownConsent(LookupError):
    """The user has not consented to this client (or the consent was revoked already)."""

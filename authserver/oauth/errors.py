"""Domain errors of the oauth package (protocol errors are Authlib's OAuth2Error subclasses)."""

from __future__ import annotations


class RegistrationProblems(ValueError):
    """Registration data is invalid; each problem says which field and why."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ClientRegistrationError(RegistrationProblems):
    """A client's registration data is invalid."""


class UnknownClient(LookupError):
    """No client has this client_id."""


class UnknownConsent(LookupError):
    """The user has not consented to this client (or the consent was revoked already)."""


class ApiRegistrationError(RegistrationProblems):
    """An API's registration data is invalid."""


class UnknownApi(LookupError):
    """No API has this identifier."""

"""What a refused request raises: one class per answer a service gives.

Every error carries the HTTP status, the RFC 6750 / RFC 9449 error code and a fixed description
chosen here. Nothing from the token, a library's exception or the network ever reaches the
message, so a service can show ``str(error)`` to its caller without leaking anything. The
``reason`` is a short fixed label for the service's own logs and metrics.
"""

from __future__ import annotations


class ConfigurationError(ValueError):
    """The kit was given a value it refuses (raised when it is set up, never per request)."""


class VerifierError(Exception):
    """Base of every refusal. ``error`` is None when the answer names no error code."""

    status = 401
    error: str | None = "invalid_token"
    description = "The access token is not valid."
    # How the token was (or must be) presented, Bearer or DPoP; None when no credentials came.
    # Set by Verifier.authenticate, read when the challenge is written.
    scheme: str | None = None

    def __init__(self, reason: str = "", description: str | None = None) -> None:
        self.reason = reason or type(self).__name__
        if description is not None:
            self.description = description
        super().__init__(self.description)


class MissingToken(VerifierError):
    """RFC 6750 §3.1: a request with no credentials gets a challenge without an error code."""

    error = None
    description = "An access token is required."


class InvalidRequest(VerifierError):
    """RFC 6750 §3.1 invalid_request: the credentials were sent in a way we cannot read."""

    status = 400
    error = "invalid_request"
    description = "The request's credentials are malformed."


class InvalidToken(VerifierError):
    """RFC 6750 §3.1 invalid_token: expired, revoked, malformed, or not for this API."""


class InvalidDPoPProof(VerifierError):
    """RFC 9449 §7.1 invalid_dpop_proof: the DPoP header is missing, malformed or does not fit."""

    error = "invalid_dpop_proof"
    description = "The DPoP proof is not valid."


class InsufficientScope(VerifierError):
    """RFC 6750 §3.1 insufficient_scope: a valid token without every scope the route needs."""

    status = 403
    error = "insufficient_scope"
    description = "The access token does not grant the scope this request needs."

    def __init__(self, required: tuple[str, ...]) -> None:
        super().__init__("insufficient_scope")
        self.required = required


class VerifierUnavailable(VerifierError):
    """The keys or the introspection endpoint could not be reached: fail closed, try later."""

    status = 503
    error = "temporarily_unavailable"
    description = "The access token cannot be checked right now."

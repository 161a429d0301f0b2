"""Verifying authserver's access tokens in a service: RFC 9068 JWTs, DPoP, introspection.

The core needs only PyJWT and cryptography; the Flask adapter (``authserver_verifier.flask``)
imports Flask when it is imported itself, and the ASGI middleware (``authserver_verifier.asgi``)
needs nothing more.
"""

from __future__ import annotations

from authserver_verifier.challenges import Refusal
from authserver_verifier.errors import (
    ConfigurationError,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    VerifierError,
    VerifierUnavailable,
)
from authserver_verifier.keys import CachePolicy
from authserver_verifier.replay import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    ReplayStoreFailed,
)
from authserver_verifier.tokens import VerifiedToken
from authserver_verifier.verifier import Verifier

__all__ = [
    "CachePolicy",
    "ConfigurationError",
    "InsufficientScope",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "MemoryReplayStore",
    "MissingToken",
    "RedisReplayStore",
    "Refusal",
    "ReplayStore",
    "ReplayStoreFailed",
    "VerifiedToken",
    "Verifier",
    "VerifierError",
    "VerifierUnavailable",
    "require_scopes",
]


def require_scopes(token: VerifiedToken, *scopes: str) -> None:
    """Raise InsufficientScope (403) unless ``token`` grants every one of ``scopes``."""
    token.require_scopes(*scopes)

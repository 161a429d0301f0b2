"""Reading the Authorization header, and the answer to a refused request.

The answer is framework-neutral (a status, headers, a small JSON body) so the Flask and ASGI
adapters send the same thing. Challenges follow RFC 6750 §3 for Bearer and RFC 9449 §7.1 for
DPoP; a request without usable credentials gets both, so a client learns either scheme works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from authserver_verifier.errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    VerifierError,
    VerifierUnavailable,
)

BEARER, DPOP = "Bearer", "DPoP"
# RFC 6750 §2.1 b64token (the same as RFC 9110's token68).
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True)
class Credentials:
    scheme: str  # BEARER or DPOP, as spelled here whatever the case the client used
    token: str


@dataclass(frozen=True)
class Refusal:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def read_authorization(values: Sequence[str]) -> Credentials:
    """The one Authorization header's scheme and token (RFC 6750 §2.1, RFC 9449 §7.1)."""
    if not values:
        raise MissingToken("no_authorization")
    if len(values) > 1:
        raise InvalidRequest("several_authorization_headers")
    scheme, _, token = values[0].strip().partition(" ")
    # RFC 9110 §11.1: the scheme name is case-insensitive.
    known = {BEARER.lower(): BEARER, DPOP.lower(): DPOP}.get(scheme.lower())
    if known is None:
        raise MissingToken("other_scheme")  # credentials of some other kind: not for us
    token = token.strip()
    if not token:
        raise InvalidRequest("no_token")
    if _TOKEN68.fullmatch(token) is None:
        raise InvalidToken("malformed")
    return Credentials(scheme=known, token=token)


def refusal(
    error: VerifierError, *, scheme: str | None, dpop_algs: Sequence[str], realm: str | None
) -> Refusal:
    """What to answer for ``error``; ``scheme`` is how the token was (or should have been) sent."""
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    if isinstance(error, VerifierUnavailable):
        # Not a challenge: the credentials may be fine, the check could not be made.
        headers.append(("Retry-After", RETRY_AFTER_SECONDS))
    else:
        schemes = (scheme,) if scheme in (BEARER, DPOP) else (BEARER, DPOP)
        for name in schemes:
            headers.append(("WWW-Authenticate", _challenge(name, error, dpop_algs, realm)))
    body = {"error": error.error, "error_description": error.description}
    if error.error is None:
        del body["error"]
    return Refusal(error.status, headers, json.dumps(body).encode())


def _challenge(
    scheme: str, error: VerifierError, dpop_algs: Sequence[str], realm: str | None
) -> str:
    params: list[tuple[str, str]] = []
    if realm is not None:
        params.append(("realm", realm))
    # RFC 6750 §3.1: no error code when the request had no credentials at all.
    if error.error is not None:
        params += [("error", error.error), ("error_description", error.description)]
    if isinstance(error, InsufficientScope):
        params.append(("scope", " ".join(error.required)))
    if scheme == DPOP:
        params.append(("algs", " ".join(dpop_algs)))  # RFC 9449 §7.1
    if not params:
        return scheme
    return scheme + " " + ", ".join(f'{name}="{_quoted(value)}"' for name, value in params)


def _quoted(value: str) -> str:
    """RFC 9110 §5.6.4 quoted-string content."""
    return value.replace("\\", "\\\\").replace('"', '\\"')

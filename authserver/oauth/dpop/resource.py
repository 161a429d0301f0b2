"""DPoP at a protected resource (RFC 9449 §7): here, userinfo.

A bound access token (one with `cnf.jkt`) is accepted only with the ``DPoP`` scheme and a proof
made with the bound key for this very request and token. An unbound token keeps working with
``Bearer`` (RFC 6750); both schemes are accepted, so a request without credentials is
challenged with both (§7.2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Request

from authserver.config import current_settings
from authserver.oauth.dpop.errors import InvalidDPoPProof
from authserver.oauth.dpop.proofs import DPOP_ALGORITHMS, presented_proof, verify_proof

DPOP_SCHEME = "DPoP"
# §7.1: the `algs` parameter of the DPoP challenge.
ALGS_PARAMETER = f'algs="{" ".join(DPOP_ALGORITHMS)}"'


class BoundTokenMisused(Exception):
    """§7.1 / §7.2: an access token presented with the wrong scheme for its binding.

    Answered as ``invalid_token`` with a ``DPoP`` challenge, which tells the client how the
    token must be sent.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def confirmed_jkt(claims: dict[str, Any]) -> str | None:  # Any: JSON claim values
    """The thumbprint an access token is bound to (RFC 9449 §6.1 `cnf.jkt`), None if unbound."""
    confirmation = claims.get("cnf")
    jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
    return jkt if isinstance(jkt, str) else None


def check_token_binding(
    request: Request,
    *,
    scheme: str,
    token: str,
    claims: dict[str, Any],  # Any: the verified token's JSON claims
    path: str,
    now: datetime,
) -> None:
    """Raise unless the token was presented as its binding demands.

    ``scheme`` is the Authorization scheme used (``Bearer`` or ``DPoP``), ``path`` the
    resource's path under the issuer: the proof's `htu` must be the published URL (§4.3 check
    9), not whatever Host the request came with.
    """
    jkt = confirmed_jkt(claims)
    if scheme != DPOP_SCHEME:
        if jkt is not None:
            # §7.2: a bound token sent as a bearer token must be refused, or stealing it
            # would be enough to use it.
            raise BoundTokenMisused("This token is DPoP-bound: send it with the DPoP scheme.")
        return
    if jkt is None:
        # §7.1: the proof's key must match the token's binding, and this token has none.
        raise BoundTokenMisused("This token is not DPoP-bound: send it as a Bearer token.")
    proof = presented_proof(request)
    if proof is None:
        raise InvalidDPoPProof("A DPoP proof is required with this token.")
    url = current_settings().issuer + path
    verified = verify_proof(proof, method=request.method, url=url, now=now, access_token=token)
    if verified.jkt != jkt:
        raise InvalidDPoPProof("The proof's key is not the key this token is bound to.")


def dpop_challenge(error: str | None = None, description: str | None = None) -> str:
    """§7.1: ``DPoP algs="...", error="...", error_description="..."``."""
    challenge = f"{DPOP_SCHEME} {ALGS_PARAMETER}"
    if error:
        challenge += f', error="{error}"'
        if description:
            challenge += f', error_description="{description}"'
    return challenge

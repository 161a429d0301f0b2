"""DPoP at the token endpoint (RFC 9449 §5): which key, if any, this request's tokens are bound to.

The proof is checked by the view before Authlib sees the request (it depends on nothing but
the request), and remembered for the request in ``flask.g``. The rules that need the
authenticated client or the presented refresh token run as a grant extension, registered on
every grant in server.py, just before the grant issues anything; a refusal there leaves the
code or refresh token unused, as the request's transaction is never committed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from flask import Request, Response, g

from authserver.config import current_settings
from authserver.oauth.dpop.errors import InvalidDPoPProof
from authserver.oauth.dpop.nonces import current_nonce
from authserver.oauth.dpop.proofs import VerifiedProof, presented_proof, verify_proof

TOKEN_ENDPOINT_PATH = "/oauth/token"
NONCE_HEADER = "DPoP-Nonce"
DPOP_TOKEN_TYPE = "DPoP"  # RFC 9449 §5: the token_type of a bound access token
_PROOF_ATTRIBUTE = "dpop_token_proof"


def accept_token_request_proof(request: Request) -> None:
    """Verify the request's DPoP proof, if it has one, and keep it for the grant.

    Raises InvalidDPoPProof or UseDPoPNonce. The expected `htu` is the token endpoint as
    discovery publishes it (issuer + path), never built from the Host header, which a client
    or proxy controls.
    """
    # Set first, to None: nothing from an earlier request in the same app context survives.
    setattr(g, _PROOF_ATTRIBUTE, None)
    proof = presented_proof(request)
    if proof is None:
        return
    url = current_settings().issuer + TOKEN_ENDPOINT_PATH
    verified = verify_proof(proof, method=request.method, url=url, now=datetime.now(UTC))
    setattr(g, _PROOF_ATTRIBUTE, verified)


def token_request_jkt() -> str | None:
    """The thumbprint of the key this token request proved, for the tokens it issues."""
    proof: VerifiedProof | None = g.get(_PROOF_ATTRIBUTE)
    return proof.jkt if proof is not None else None


def refresh_token_jkt(*, is_public_client: bool, jkt: str | None) -> str | None:
    """RFC 9449 §5: a public client's refresh token MUST be bound to the proof's key. A
    confidential client's is not: it authenticates on every refresh, and may present a proof
    made with a new key each time."""
    return jkt if is_public_client else None


def with_nonce(response: Response) -> Response:
    """§8.2: while nonces are required, every answer carries the one to use next, so a client
    is never left with one that expired between its requests."""
    if current_settings().dpop_nonce_required:
        response.headers[NONCE_HEADER] = current_nonce(now=datetime.now(UTC))
    return response


class DPoPBinding:
    """Authlib grant extension: the client- and token-dependent rules of §5."""

    def __call__(self, grant: Any) -> None:  # Any: an Authlib grant, which has no type hints
        grant.register_hook("before_create_token_response", self.check)

    def check(self, grant: Any) -> None:  # Any: as above
        jkt = token_request_jkt()
        if grant.request.client.model.require_dpop and jkt is None:
            # §5.2: a client registered for DPoP-bound tokens only (`dpop_bound_access_tokens`)
            # has token requests without a proof refused.
            raise InvalidDPoPProof("This client must send a DPoP proof.")
        refresh_token = grant.request.refresh_token  # None but for the refresh grant
        bound = refresh_token.row.dpop_jkt if refresh_token is not None else None
        if bound is None or bound == jkt:
            return
        # §5: a bound refresh token is usable only with a proof made with its key. Refused
        # here, the rotation already staged is rolled back: the token stays usable.
        if jkt is None:
            raise InvalidGrantError("The refresh token is DPoP-bound: send a proof with its key.")
        raise InvalidGrantError("The refresh token is bound to another DPoP key.")

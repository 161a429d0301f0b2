"""POST /oauth/token (RFC 6749 §3.2)."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from authserver.oauth.dpop.errors import InvalidDPoPProof, UseDPoPNonce
from authserver.oauth.dpop.token_binding import accept_token_request_proof, with_nonce
from authserver.oauth.request_checks import protocol_request_problem
from authserver.oauth.server import error_response, oauth_server
from authserver.ratelimit.limits import limit_token

bp = Blueprint("token", __name__)


@bp.post("/oauth/token")
@limit_token
def token() -> ResponseReturnValue:
    problem = protocol_request_problem(request)
    if problem is not None:
        return error_response(problem)
    try:
        accept_token_request_proof(request)  # RFC 9449 §5
    except (InvalidDPoPProof, UseDPoPNonce) as error:
        return with_nonce(error_response(error))
    response: Response = oauth_server().create_token_response()
    return with_nonce(response)

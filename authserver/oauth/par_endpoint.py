"""POST /oauth/par: pushed authorization requests (RFC 9126 §2).

The client authenticates exactly as at the token endpoint (Authlib's client authentication,
with the same pre-checks), and the parameters are validated exactly as the authorization
endpoint validates them (``parse_authorization_request``); what passes is stored and named by
a request_uri the browser then brings to /oauth/authorize (oauth/pushed_requests.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.endpoint import Endpoint
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from authserver.oauth.authorization_request import (
    Params,
    RedirectableError,
    UntrustedRedirect,
    parse_authorization_request,
)
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.grants.common import ALL_AUTH_METHODS
from authserver.oauth.pushed_requests import (
    CLIENT_CREDENTIAL_PARAMETERS,
    EXPIRES_IN_SECONDS,
    push_request,
)
from authserver.oauth.request_checks import protocol_request_problem
from authserver.oauth.server import error_response, oauth_server
from authserver.ratelimit.limits import limit_token

bp = Blueprint("pushed_authorization", __name__)

PAR_PATH = "/oauth/par"
# RFC 6749 §5.2: error_description may hold only %x20-21 / %x23-5B / %x5D-7E.
_DESCRIBABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


class PushedAuthorizationEndpoint(Endpoint):  # type: ignore[misc]  # Authlib ships no hints
    ENDPOINT_NAME = "pushed_authorization"
    # RFC 9126 §2: the client authenticates as it would at the token endpoint; public clients
    # send their client_id.
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def __call__(self, oauth_request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: AuthlibClient = self.server.authenticate_client(
            oauth_request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME
        )
        params = _pushed_params(client)
        try:
            parse_authorization_request(params, is_push=True)
        except (UntrustedRedirect, RedirectableError) as error:
            # RFC 9126 §2.3: the authorization endpoint's errors, as a JSON answer.
            raise _json_error(error.error, error.description) from None
        request_uri = push_request(client.model, params, now=datetime.now(UTC))
        # RFC 9126 §2.2: 201 Created with the request_uri and its lifetime.
        body = {"request_uri": request_uri, "expires_in": EXPIRES_IN_SECONDS}
        return 201, body, default_json_headers


def _pushed_params(client: AuthlibClient) -> Params:
    """The authorization request's parameters: the body less the client's credentials.

    RFC 9126 §2.1: client_id is part of the request. A client that authenticated with Basic
    credentials or an assertion may leave it out of the body; it is the authenticated client
    either way (request_checks made sure a body client_id names no other).
    """
    params = {
        name: request.form.getlist(name)
        for name in request.form
        if name not in CLIENT_CREDENTIAL_PARAMETERS
    }
    params["client_id"] = [client.get_client_id()]
    return params


def _json_error(error: str, description: str) -> OAuth2Error:
    if not _DESCRIBABLE.fullmatch(description):
        description = "The authorization request is invalid."
    return OAuth2Error(description=description, status_code=400, error=error)


@bp.post(PAR_PATH)
@limit_token
def pushed_authorization() -> ResponseReturnValue:
    problem = protocol_request_problem(request)
    if problem is not None:
        return error_response(problem)
    response: Response = oauth_server().create_endpoint_response(
        PushedAuthorizationEndpoint.ENDPOINT_NAME
    )
    return response

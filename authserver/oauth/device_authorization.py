"""POST /oauth/device_authorization (RFC 8628 §3.1, §3.2).

The client authenticates as at the token endpoint (a public client sends its ``client_id``),
asks for scopes and APIs exactly as at the authorization endpoint, and gets a device code to
poll with and a user code for the person. Unknown parameters are ignored (RFC 6749 §3.1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint
from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from authserver.config import current_settings
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.clients import DEVICE_CODE_GRANT_TYPE
from authserver.oauth.device_codes import start_device_authorization
from authserver.oauth.grants.common import ALL_AUTH_METHODS
from authserver.oauth.request_checks import protocol_request_problem
from authserver.oauth.requested_access import requested_resources, requested_scopes
from authserver.oauth.resources import RESOURCE_PARAMETER
from authserver.oauth.server import error_response, oauth_server
from authserver.ratelimit.limits import limit_token

bp = Blueprint("device_authorization", __name__)

DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization"
VERIFICATION_PATH = "/device"


def verification_uri() -> str:
    """Built from the issuer, never from the request's Host header (which a client controls)."""
    return current_settings().issuer + VERIFICATION_PATH


def verification_uri_complete(user_code: str) -> str:
    """RFC 8628 §3.3.1: the URI with the code in it, for a QR code or a link on the device."""
    return verification_uri() + "?" + urlencode({"user_code": user_code})


class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]  # no hints
    # RFC 8628 §3.1: the client authenticates as at the token endpoint.
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def create_endpoint_response(self, oauth_request: Any) -> tuple[int, Any, Any]:
        """Authlib's steps with our checks of scope and resource, and our storage."""
        client: AuthlibClient = self.authenticate_client(oauth_request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device authorization grant.")
        form = oauth_request.form
        scopes = requested_scopes(client.model, form.get("scope"))
        resources = requested_resources(client.model, form.getlist(RESOURCE_PARAMETER), scopes)
        issued = start_device_authorization(client.model, scopes, resources, now=datetime.now(UTC))
        body = {
            "device_code": issued.device_code,
            "user_code": issued.user_code,
            "verification_uri": verification_uri(),
            "verification_uri_complete": verification_uri_complete(issued.user_code),
            "expires_in": issued.expires_in,
            "interval": issued.interval,
        }
        # The device code is a credential: no cache may keep the answer (RFC 6749 §5.1).
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
        ]
        return 200, body, headers


@bp.post(DEVICE_AUTHORIZATION_PATH)
@limit_token  # each request stores a row: the token endpoint's budget per client
def device_authorization() -> ResponseReturnValue:
    problem = protocol_request_problem(request)
    if problem is not None:
        return error_response(problem)
    response: Response = oauth_server().create_endpoint_response(DeviceAuthorization.ENDPOINT_NAME)
    return response

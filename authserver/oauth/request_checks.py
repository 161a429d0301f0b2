"""Checks every POST to a protocol endpoint passes before Authlib sees it.

They turn malformed input into RFC 6749 §5.2 errors (never a 500) and enforce rules Authlib
leaves to us: one value per parameter, form encoding, and sane Basic credentials.
"""

from __future__ import annotations

import base64
import binascii

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from flask import Request

from authserver.oauth.client_auth_checks import client_authentication_problem

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_VALUE_LENGTH = 16 * 1024  # a JWT client assertion or token is a few KB at most


def protocol_request_problem(request: Request) -> OAuth2Error | None:
    if request.mimetype != FORM_CONTENT_TYPE:
        # RFC 6749 §3.2: token requests are form-encoded.
        return InvalidRequestError(f"The request body must be {FORM_CONTENT_TYPE}.")
    for name, values in request.form.lists():
        if len(values) > 1:
            # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
            return InvalidRequestError(f"Repeated parameter '{name[:64]}'.")
        if not _is_clean(name) or not _is_clean(values[0]):
            return InvalidRequestError("A parameter is malformed.")
    if request.args:
        # Credentials and tokens in a URL end up in logs; RFC 6749 §3.2 wants the body.
        return InvalidRequestError("Send parameters in the request body, not the URL.")
    basic_problem = _basic_credentials_problem(request.headers.get("Authorization"))
    return basic_problem or client_authentication_problem(request)


def _is_clean(value: str) -> bool:
    # U+FFFD is what undecodable (non-UTF-8) bytes become.
    return len(value) <= MAX_VALUE_LENGTH and "\x00" not in value and "\ufffd" not in value


def _basic_credentials_problem(header: str | None) -> OAuth2Error | None:
    if header is None:
        return None
    # Split exactly as Authlib does (any whitespace), so what we check is what it will parse.
    parts = header.split(None, 1)
    if not parts or parts[0].lower() != "basic":
        return None
    credentials = parts[1] if len(parts) == 2 else ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if ":" not in decoded or "\x00" in decoded:
        # RFC 6749 §5.2: invalid_client with 401 when the client tried the Authorization header.
        return InvalidClientError(status_code=401, description="Malformed Basic credentials.")
    return None

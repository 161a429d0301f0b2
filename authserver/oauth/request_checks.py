"""Checks every POST to a protocol endpoint passes before Authlib sees it.

They turn malformed input into RFC 6749 §5.2 errors (never a 500) and enforce rules Authlib
leaves to us: one value per parameter, form encoding, and sane Basic credentials.
"""

from __future__ import annotations

import base64
import binascii
import re

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from flask import Request

from authserver.oauth.client_auth_checks import client_authentication_problem

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_VALUE_LENGTH = 16 * 1024  # a JWT client assertion or token is a few KB at most
# RFC 6749 §5.2 / §4.1.2.1: error_description may hold only %x20-21 / %x23-5B / %x5D-7E.
# RFC 8707 §2 and RFC 8693 §2.1: `resource` and `audience` may be given several times (the
# grants decide what that means).
REPEATABLE_PARAMETERS = frozenset({"resource", "audience"})
_DESCRIBABLE_NAME = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")


def quoted_parameter(name: str) -> str | None:
    """``'name'`` for an error description, or None when the name may not appear in one.

    The client chose the name: a quote, backslash, control or non-ASCII character in it would
    make the description invalid (Authlib refuses to build such an error at all).
    """
    return f"'{name}'" if _DESCRIBABLE_NAME.fullmatch(name) else None


def repeated_parameter_description(name: str) -> str:
    quoted = quoted_parameter(name)
    return f"Repeated parameter {quoted}." if quoted else "A parameter is repeated."


def protocol_request_problem(request: Request) -> OAuth2Error | None:
    if request.mimetype != FORM_CONTENT_TYPE:
        # RFC 6749 §3.2: token requests are form-encoded.
        return InvalidRequestError(f"The request body must be {FORM_CONTENT_TYPE}.")
    for name, values in request.form.lists():
        if len(values) > 1 and name not in REPEATABLE_PARAMETERS:
            # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
            return InvalidRequestError(repeated_parameter_description(name))
        if not _is_clean(name) or not all(_is_clean(value) for value in values):
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

"""One client, authenticated one way, per request (RFC 6749 §2.3).

Authlib tries each allowed method in turn and accepts the first that succeeds, so a request that
carries Basic credentials *and* a `client_secret` in the body, or a body `client_id` naming
another client than the Basic credentials, would be answered for whichever method it tried
first. Such a request is refused before any grant runs: no code is consumed, no token rotated.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Request

MORE_THAN_ONE_METHOD = "The client must authenticate with exactly one method."
CLIENT_ID_MISMATCH = "The client_id does not match the client's credentials."


def client_authentication_problem(request: Request) -> OAuth2Error | None:
    basic_client_id = _basic_client_id(request.headers.get("Authorization"))
    methods = [
        basic_client_id is not None,
        "client_secret" in request.form,
        "client_assertion" in request.form or "client_assertion_type" in request.form,
    ]
    if sum(methods) > 1:
        # RFC 6749 §2.3: the client MUST NOT use more than one authentication method per request.
        return InvalidRequestError(MORE_THAN_ONE_METHOD)
    body_client_id = request.form.get("client_id")
    if basic_client_id is not None and body_client_id not in (None, basic_client_id):
        # RFC 6749 §2.3.1 and §3.2.1: the request is one client's; two names are not.
        return InvalidRequestError(CLIENT_ID_MISMATCH)
    if _assertion_names_another_client(request.form.get("client_assertion"), body_client_id):
        return InvalidRequestError(CLIENT_ID_MISMATCH)
    return None


def _assertion_names_another_client(assertion: str | None, client_id: str | None) -> bool:
    """RFC 7521 §4.2: a client_id sent with an assertion MUST identify the same client.

    Only compared here; Authlib verifies the assertion (signature, iss, sub) afterwards.
    """
    if assertion is None or client_id is None:
        return False
    return _unverified_subject(assertion) != client_id


def _unverified_subject(assertion: str) -> object:
    segments = assertion.split(".")
    if len(segments) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return claims.get("sub") if isinstance(claims, dict) else None


def _basic_client_id(header: str | None) -> str | None:
    """The client id in well-formed Basic credentials (checked before this runs), else None."""
    parts = (header or "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    # RFC 6749 §2.3.1: the id is form-urlencoded before it is put in the header.
    return unquote(decoded.partition(":")[0].replace("+", " "))

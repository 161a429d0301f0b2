"""Provider metadata: OIDC Discovery 1.0 §3 and RFC 8414 §2, one document for both.

Only what is implemented is advertised. The body is built once per process and served as
bytes with a strong ETag: clients poll it, and it only changes with a deployment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from authserver.config import current_settings
from authserver.keys.views import JWKS_PATH
from authserver.oauth.clients import AUTH_METHODS, GRANT_TYPES, SIGNING_ALGORITHMS
from authserver.oauth.dpop.proofs import DPOP_ALGORITHMS
from authserver.oauth.grants.common import CONFIDENTIAL_AUTH_METHODS
from authserver.oauth.scopes import STANDARD_SCOPES
from authserver.sessions import ACR_MFA, ACR_PASSWORD

bp = Blueprint("discovery", __name__)
CACHE_EXTENSION = "authserver.oidc.discovery"
MAX_AGE_SECONDS = 3600

# OIDC Discovery 1.0 §4 and RFC 8414 §3: one document at both well-known names.
METADATA_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
CLAIMS_SUPPORTED = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp",
    "at_hash", "name", "email", "email_verified", "roles",
)  # fmt: skip


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str


def provider_metadata(issuer: str, *, require_par: bool = False) -> dict[str, Any]:  # Any: JSON
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/oauth/authorize",
        "token_endpoint": issuer + "/oauth/token",
        "userinfo_endpoint": issuer + "/oauth/userinfo",
        "jwks_uri": issuer + JWKS_PATH,
        "end_session_endpoint": issuer + "/oauth/logout",
        # OIDC Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` (and `sub`).
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "introspection_endpoint": issuer + "/oauth/introspect",
        "revocation_endpoint": issuer + "/oauth/revoke",
        "pushed_authorization_request_endpoint": issuer + "/oauth/par",  # RFC 9126 §5
        "device_authorization_endpoint": issuer + "/oauth/device_authorization",  # RFC 8628 §4
        "scopes_supported": list(STANDARD_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(CONFIDENTIAL_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),  # RFC 9449 §5.1
        "claims_supported": list(CLAIMS_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": [ACR_PASSWORD, ACR_MFA],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        # RFC 8707 registers no metadata name; this one is what clients (MCP's among them)
        # look for. The APIs themselves are not listed: they are the operator's business.
        "resource_indicators_supported": True,
        "request_parameter_supported": False,
        # OIDC's request_uri (a request object fetched by reference) is not supported; the
        # request_uri of a pushed request is, as pushed_authorization_request_endpoint says.
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
    if require_par:
        # RFC 9126 §5: the default is false, so it is said only when it is true.
        metadata["require_pushed_authorization_requests"] = True
    return metadata


def built_body(app: Flask) -> bytes | None:
    """The document's bytes once the view has built them (edges/public_documents.py)."""
    cached: Document | None = app.extensions.get(CACHE_EXTENSION)
    return None if cached is None else cached.body


def _document() -> Document:
    cached: Document | None = current_app.extensions.get(CACHE_EXTENSION)
    if cached is None:
        settings = current_settings()
        metadata = provider_metadata(settings.issuer, require_par=settings.require_par)
        body = json.dumps(metadata, separators=(",", ":")).encode()
        cached = Document(body=body, etag=hashlib.sha256(body).hexdigest()[:32])
        current_app.extensions[CACHE_EXTENSION] = cached
    return cached


@bp.get(METADATA_PATHS[0])
@bp.get(METADATA_PATHS[1])
def metadata() -> Response:
    document = _document()
    if document.etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(document.body, mimetype="application/json")
    response.set_etag(document.etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_SECONDS
    return response

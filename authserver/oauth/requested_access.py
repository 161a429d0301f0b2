"""What a client may ask a person for: scopes and APIs (RFC 6749 §3.3, RFC 8707 §2).

Checked the same way wherever a grant is asked for: the authorization endpoint (which
redirects the error to the client) and the device authorization endpoint (which answers it
as JSON). Errors are Authlib's, with the RFC's codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError

from authserver.models.clients import Client
from authserver.oauth.resources import InvalidTargetError, requested_apis
from authserver.oauth.scopes import OFFLINE_ACCESS, is_valid_scope_string, parse_scope

MAX_PARAMETER_LENGTH = 2048


def requested_scopes(client: Client, raw: str | None) -> tuple[str, ...]:
    """The scopes asked for, each allowed for the client; InvalidScopeError otherwise."""
    if raw is None:
        # RFC 6749 §3.3: without a scope, the registered default applies.
        return tuple(parse_scope(client.scope))
    if not is_valid_scope_string(raw):
        raise InvalidScopeError("The scope is malformed.")
    requested = parse_scope(raw)
    unknown = [scope for scope in requested if scope not in client.allowed_scopes]
    if unknown:
        raise InvalidScopeError(f"Scope not allowed for this client: {' '.join(unknown)}.")
    return tuple(requested)


def requested_resources(
    client: Client, values: Sequence[str], scopes: Sequence[str]
) -> tuple[str, ...]:
    """The identifiers of the APIs named by ``resource``; InvalidTargetError when one is not
    the client's, or shares none of the requested scopes."""
    if any(len(value) > MAX_PARAMETER_LENGTH or "\x00" in value for value in values):
        raise InvalidRequestError("Invalid 'resource'.")
    apis = requested_apis(client, values)
    for api in apis:
        if set(scopes).isdisjoint(api.scopes):
            # Caught here rather than at the token endpoint: such a grant could never yield a
            # token for that API, and the person would have consented for nothing.
            raise InvalidTargetError(
                description="None of the requested scopes belongs to the resource."
            )
    return tuple(api.identifier for api in apis)


def granted_scopes(client: Client, scopes: Sequence[str]) -> tuple[str, ...]:
    """offline_access only means something to a client allowed to refresh (OIDC Core §11)."""
    if "refresh_token" in client.grant_types:
        return tuple(scopes)
    return tuple(scope for scope in scopes if scope != OFFLINE_ACCESS)

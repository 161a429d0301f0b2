"""Resource indicators (RFC 8707): which API an access token is for, and with which scopes.

A grant (authorization code, and the refresh tokens descending from it) may name the APIs it
is for; each token request then gets a token for one of them, whose `aud` is that API and whose
scopes are the grant's scopes that belong to it. Without a resource the token is for the
issuer (userinfo), as it always was.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from authlib.oauth2.rfc6749.errors import OAuth2Error

from authserver.models.apis import Api
from authserver.models.clients import Client
from authserver.oauth.apis import find_api, identifier_problem, may_use

RESOURCE_PARAMETER = "resource"


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]  # Authlib ships no type hints
    """RFC 8707 §2: the requested resource is invalid, unknown, or not for this client."""

    error = "invalid_target"


@dataclass(frozen=True)
class Target:
    """Who one access token is for."""

    api: Api | None  # None: the issuer itself (userinfo)
    scopes: tuple[str, ...]  # what the token carries


def requested_apis(client: Client, values: Sequence[str]) -> list[Api]:
    """The APIs named by `resource` values, each checked; InvalidTargetError if any fails."""
    apis: dict[str, Api] = {}
    for value in values:
        if identifier_problem(value) is not None:
            # RFC 8707 §2: an absolute URI without a fragment.
            raise InvalidTargetError(description="The resource is not an absolute URI.")
        api = find_api(value)
        # One answer for an unknown API and one this client may not use: a client learns
        # nothing about APIs that are not its own.
        if api is None or not may_use(client, api):
            raise InvalidTargetError(description="The resource is unknown or not for this client.")
        apis[api.identifier] = api
    return list(apis.values())


def token_target(
    client: Client,
    requested: Sequence[str],
    grant_resources: Collection[str] | None,
    scopes: Sequence[str],
) -> Target:
    """The target of one token request.

    ``grant_resources`` are the APIs the grant was limited to (an authorization request's, a
    refresh token's); an empty collection means the grant named none, None that there is no
    grant (client credentials). A token request names at most one resource; it must be one of
    the grant's when the grant named any (RFC 8707 §2.2), and any API the client may use when
    it named none (the person consented to scopes, and only the API's scopes go in the token).
    Naming none picks the grant's only API, or else the issuer.
    """
    if len(requested) > 1:
        # RFC 8707 §2: the server may refuse to mint one token for several resources.
        raise InvalidTargetError(description="Ask for one resource per token request.")
    if not requested:
        if grant_resources and len(grant_resources) == 1:
            requested = list(grant_resources)
        else:
            return Target(api=None, scopes=tuple(scopes))
    [api] = requested_apis(client, requested)
    if grant_resources and api.identifier not in grant_resources:
        raise InvalidTargetError(description="The resource is not one this grant was for.")
    api_scopes = tuple(scope for scope in scopes if scope in api.scopes)
    if not api_scopes:
        raise InvalidTargetError(description="None of the granted scopes belongs to the resource.")
    return Target(api=api, scopes=api_scopes)

"""Token exchange (RFC 8693): a service trades a user's access token for one for another API.

The Orders service received Ada's token (aud = Orders) and must call Billing on her behalf. It
authenticates at the token endpoint and presents her token as the `subject_token`, naming
Billing as `resource` or `audience`. It gets a token for Billing that keeps Ada as `sub`, says
who acts for her in `act` (§4.1), carries only her scopes that belong to Billing, and ends no
later than her token. What a client may ask for is its policy: `exchange_audiences`, set by an
operator (`client create --exchange-audience URI`).

Errors (RFC 8693 §2.2.2, RFC 6749 §5.2): a bad request and every subject token we will not
exchange are `invalid_request` ("If the request itself is not valid or if either the
subject_token or actor_token are invalid for any reason, or are unacceptable based on policy,
... The value of the error parameter MUST be the invalid_request error code"); a target we
will not issue for is `invalid_target`; a scope beyond what the subject token allows is
`invalid_scope`. A refusal raises before anything is staged, so it changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError
from werkzeug.datastructures import MultiDict

from authserver.models.apis import Api
from authserver.models.clients import Client
from authserver.models.users import User
from authserver.oauth.access_tokens import (
    AccessToken,
    InvalidAccessToken,
    token_audiences,
    verify_access_token,
)
from authserver.oauth.apis import find_api, identifier_problem
from authserver.oauth.clients import TOKEN_EXCHANGE
from authserver.oauth.resources import RESOURCE_PARAMETER, InvalidTargetError
from authserver.oauth.scopes import is_valid_scope_string, parse_scope
from authserver.oauth.tokens import (
    ACTOR_CLAIM,
    Authentication,
    Delegation,
    Issue,
    issue_token_response,
)

# RFC 8693 §3: the one token type we take and give.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
AUDIENCE_PARAMETER = "audience"
SUBJECT_REFUSED = "The subject_token is not an active access token meant for this client."
TARGET_REFUSED = "The audience or resource is unknown or not allowed for this client."


@dataclass(frozen=True)
class Exchange:
    """A token exchange that passed every check: what the new token is made from."""

    client: Client
    subject: AccessToken
    user: User
    api: Api
    scopes: tuple[str, ...]


def check_exchange(client: Client, form: MultiDict[str, str], *, now: datetime) -> Exchange:
    """Every rule of an exchange request, in order; raises the RFC's error for the first
    that fails. The client has authenticated and holds the grant type."""
    _check_parameters(form)
    targets = _named_targets(form)
    subject = _verified_subject(client, form["subject_token"], now=now)
    assert subject.user is not None  # _verified_subject keeps user tokens only
    api = _target_api(client, targets)
    scopes = _exchanged_scopes(subject, api, form.get("scope"))
    return Exchange(client=client, subject=subject, user=subject.user, api=api, scopes=scopes)


def issue_exchanged_token(
    exchange: Exchange, *, now: datetime, dpop_jkt: str | None
) -> dict[str, Any]:  # Any: the JSON token response
    subject = exchange.subject
    response = issue_token_response(
        Issue(
            client=exchange.client,
            scopes=exchange.scopes,
            now=now,
            grant_type=TOKEN_EXCHANGE,
            user=exchange.user,
            # The user's sign-in is still what the new token rests on (RFC 9068 §2.2.1).
            authentication=_authentication(subject),
            # Kept, so revoking the user's grant stops the tokens exchanged from it too.
            grant_id=subject.grant_id,
            api=exchange.api,
            access_scopes=exchange.scopes,
            dpop_jkt=dpop_jkt,
            delegation=Delegation(
                act=actor_claim(exchange.client.client_id, subject.claims),
                subject_client_id=subject.client_id,
                expires_at_most=int(subject.claims["exp"]),
            ),
        )
    )
    # §2.2.1: REQUIRED. No refresh token: the client can exchange the user's token again
    # while that lives, and no longer.
    response["issued_token_type"] = ACCESS_TOKEN_TYPE
    return response


def actor_claim(client_id: str, subject_claims: dict[str, Any]) -> dict[str, Any]:
    """RFC 8693 §4.1: the exchanging client is the current actor; a subject token that was
    itself exchanged keeps its `act` nested inside, as the prior actors."""
    act: dict[str, Any] = {"sub": client_id}
    previous = subject_claims.get(ACTOR_CLAIM)
    if isinstance(previous, dict):
        act[ACTOR_CLAIM] = previous
    return act


def _check_parameters(form: MultiDict[str, str]) -> None:
    if "actor_token" in form or "actor_token_type" in form:
        # §2.1 makes actor_token OPTIONAL; here the authenticated client is always the actor.
        raise InvalidRequestError(
            "actor_token is not supported: the authenticated client is the actor."
        )
    for name in ("subject_token", "subject_token_type"):
        if not form.get(name):
            raise InvalidRequestError(f"Missing '{name}'.")  # §2.1: REQUIRED
    if form["subject_token_type"] != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"Only subject_token_type {ACCESS_TOKEN_TYPE} is supported.")
    requested = form.get("requested_token_type")
    if requested is not None and requested != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"Only requested_token_type {ACCESS_TOKEN_TYPE} is supported.")


def _named_targets(form: MultiDict[str, str]) -> list[str]:
    """The target the request names, through `resource` and `audience` (§2.1 lets both name
    the service; here both name an API identifier, and they must agree)."""
    resources = form.getlist(RESOURCE_PARAMETER)
    audiences = form.getlist(AUDIENCE_PARAMETER)
    if not resources and not audiences:
        raise InvalidRequestError("Name the target API with 'resource' or 'audience'.")
    if len(resources) > 1 or len(audiences) > 1:
        # §2.1 allows several; we mint one token for one API, as RFC 8707 §2 lets us.
        raise InvalidTargetError(description="Ask for one target API per request.")
    if resources and audiences and resources != audiences:
        raise InvalidTargetError(description="'resource' and 'audience' must name the same API.")
    return resources or audiences


def _verified_subject(client: Client, token: str, *, now: datetime) -> AccessToken:
    """The subject token, if it is ours, active and meant for ``client``; else
    invalid_request (§2.2.2: "invalid for any reason, or ... unacceptable based on policy").

    RFC 6749's invalid_grant ("expired, revoked, ... or was issued to another client") would
    read naturally for several of these cases, but §2.2.2 fixes the code for a refused
    subject_token with a MUST, and it is the more specific text, so no case uses it.
    """
    try:
        # Signature, exp, deny list (jti and grant), the user's state, the client still there.
        subject = verify_access_token(token, now=now, any_audience=True)
    except InvalidAccessToken:
        raise InvalidRequestError(SUBJECT_REFUSED) from None
    # A client-credentials token has no user to act for: exchanging it would only let one
    # client pass itself off under another's name.
    if subject.user is None or not _is_meant_for(client, subject):
        raise InvalidRequestError(SUBJECT_REFUSED)
    return subject


def _is_meant_for(client: Client, subject: AccessToken) -> bool:
    """Who may exchange a token: the service it was sent to, or the client it was issued to.

    A token's `aud` names the API it was sent to; that API's resource server (the client
    registered with `--introspect-api` for it, as introspection's RFC 7662 §4 rule has it)
    received it from the user's app in the ordinary course. The client it was issued to holds
    it too. Any other client presenting it got a token that was not sent to it (leaked or
    forwarded), and exchanging it would turn one leak into tokens for further APIs.

    A DPoP-bound subject token (cnf.jkt) is not asked for its key: the resource server that
    received it never holds the app's private key. The exchanging client authenticates
    instead, and may bind the new token to a key of its own with a proof of its own.
    """
    if subject.client_id == client.client_id:
        return True
    return not set(token_audiences(subject.claims)).isdisjoint(client.introspect_apis)


def _target_api(client: Client, targets: Sequence[str]) -> Api:
    [identifier] = targets
    # One answer for a malformed, an unknown and a forbidden target: a client learns nothing
    # about APIs outside its policy (§2.2.2: invalid_target).
    if identifier_problem(identifier) is not None:
        raise InvalidTargetError(description=TARGET_REFUSED)
    api = find_api(identifier)
    if api is None or api.identifier not in client.exchange_audiences:
        raise InvalidTargetError(description=TARGET_REFUSED)
    return api


def _exchanged_scopes(subject: AccessToken, api: Api, requested: str | None) -> tuple[str, ...]:
    """The subject token's scopes that belong to the target API, or the requested subset.

    An exchange never widens what the user granted: the subject token's scopes are all the
    user let the app (and so its services) do.
    """
    available = tuple(scope for scope in subject.scopes if scope in api.scopes)
    if requested is None:
        if not available:
            raise InvalidTargetError(
                description="None of the subject_token's scopes belongs to the target."
            )
        return available
    if not is_valid_scope_string(requested):
        raise InvalidScopeError("The scope is malformed.")
    wanted = set(parse_scope(requested))
    if not wanted or not wanted <= set(available):
        # RFC 6749 §5.2: "exceeds the scope granted by the resource owner".
        raise InvalidScopeError(
            "The scope must be among the subject_token's scopes for the target."
        )
    return tuple(scope for scope in available if scope in wanted)


def _authentication(subject: AccessToken) -> Authentication:
    """The sign-in the subject token describes (its auth_time, acr and amr)."""
    claims = subject.claims
    amr = claims.get("amr")
    return Authentication(
        auth_time=datetime.fromtimestamp(int(claims["auth_time"]), UTC),
        acr=str(claims.get("acr", "")),
        amr=tuple(str(each) for each in amr) if isinstance(amr, list) else (),
        session_id=None,
    )

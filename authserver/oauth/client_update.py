"""Changing a registered client (``authserver client update``).

An update is validated exactly like a registration: the client's current registration, with
the requested changes applied, must pass :func:`registration_problems`, or nothing changes.

What an update means for what the client already holds:
- Scopes removed: refresh tokens stop yielding them at their next use (the refresh grant keeps
  only scopes the client is still allowed); access tokens already out keep them until they
  expire, like any JWT.
- Grant types removed: the token endpoint refuses them from the next request on.
- Auth method changed to one with a secret (from ``none`` or ``private_key_jwt``): a new secret
  is made and returned, shown once. Changed to one without: the stored secret hash is dropped,
  and a JWK Set no longer needed (``private_key_jwt`` left) is dropped with it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.oauth.client_secrets import hash_client_secret, new_client_secret
from authserver.oauth.clients import (
    SECRET_AUTH_METHODS,
    ClientRegistration,
    get_client,
    registration_problems,
)
from authserver.oauth.errors import ClientRegistrationError
from authserver.oauth.scopes import format_scope, parse_scope

UPDATABLE_FIELDS = frozenset(spec.name for spec in fields(ClientRegistration))


@dataclass(frozen=True)
class ClientUpdateResult:
    client: Client
    changed: tuple[str, ...]  # the fields whose value is different now, sorted
    secret: str | None  # a new secret (auth method moved to one that needs it), shown once


def current_registration(client: Client) -> ClientRegistration:
    """The client as a registration request: what :func:`registration_problems` checks."""
    return ClientRegistration(
        name=client.name,
        redirect_uris=tuple(client.redirect_uris),
        grant_types=tuple(client.grant_types),
        scope=client.scope,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        post_logout_redirect_uris=tuple(client.post_logout_redirect_uris),
        skip_consent=client.skip_consent,
        require_mfa=client.require_mfa,
        require_dpop=client.require_dpop,
        require_par=client.require_par,
        jwks=client.jwks,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        access_token_signed_response_alg=client.access_token_signed_response_alg,
        access_token_ttl=client.access_token_ttl,
        id_token_ttl=client.id_token_ttl,
        refresh_token_ttl=client.refresh_token_ttl,
        introspect_apis=tuple(client.introspect_apis),
        exchange_audiences=tuple(client.exchange_audiences),
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_logout_session_required=client.backchannel_logout_session_required,
    )


def update_client(
    client_id: str,
    changes: dict[str, Any],  # Any: each value has its ClientRegistration field's type
    *,
    via: str | None = None,
) -> ClientUpdateResult:
    """Apply ``changes`` (ClientRegistration field -> new value) to a client; audited, commits.

    Raises :class:`UnknownClient`, or :class:`ClientRegistrationError` listing every problem
    (nothing is changed then). Changes equal to the current values are no change at all.
    """
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise ClientRegistrationError(*(f"{name}: not a client setting" for name in unknown))
    client = get_client(client_id)
    before = current_registration(client)
    changes = _normalised(changes)
    if _leaves_private_key_jwt(before, changes):
        changes.setdefault("jwks", None)
    after = replace(before, **changes)
    problems = registration_problems(after)
    if problems:
        raise ClientRegistrationError(*problems)
    changed = tuple(
        sorted(name for name in UPDATABLE_FIELDS if getattr(after, name) != getattr(before, name))
    )
    if not changed:
        return ClientUpdateResult(client=client, changed=(), secret=None)
    secret = _apply(client, after)
    record_event(
        EventTag.ADMIN_CLIENT_UPDATED,
        client_id=client.client_id,
        detail={
            **({"via": via} if via is not None else {}),
            "changed": {name: _audit_value(name, getattr(after, name)) for name in changed},
            "new_secret": secret is not None,
        },
    )
    db.session.commit()
    return ClientUpdateResult(client=client, changed=changed, secret=secret)


def _normalised(changes: dict[str, Any]) -> dict[str, Any]:
    """The stored forms, so that "no real change" compares equal (as register_client stores)."""
    normal = dict(changes)
    lists = (
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "introspect_apis",
        "exchange_audiences",
    )
    for name in lists:
        if name in normal:
            normal[name] = tuple(dict.fromkeys(normal[name]))
    if "name" in normal:
        normal["name"] = normal["name"].strip()
    if "scope" in normal and isinstance(normal["scope"], str):
        normal["scope"] = format_scope(parse_scope(normal["scope"]))
    return normal


def _leaves_private_key_jwt(before: ClientRegistration, changes: dict[str, Any]) -> bool:
    method = changes.get("token_endpoint_auth_method", before.token_endpoint_auth_method)
    return before.token_endpoint_auth_method == "private_key_jwt" and method != "private_key_jwt"


def _apply(client: Client, after: ClientRegistration) -> str | None:
    had_secret = client.token_endpoint_auth_method in SECRET_AUTH_METHODS
    needs_secret = after.token_endpoint_auth_method in SECRET_AUTH_METHODS
    secret = new_client_secret() if needs_secret and not had_secret else None
    if secret is not None:
        client.secret_hash = hash_client_secret(secret)
    elif not needs_secret:
        client.secret_hash = None
    client.name = after.name
    client.redirect_uris = list(after.redirect_uris)
    client.post_logout_redirect_uris = list(after.post_logout_redirect_uris)
    client.grant_types = list(after.grant_types)
    client.scope = after.scope
    client.token_endpoint_auth_method = after.token_endpoint_auth_method
    client.jwks = after.jwks
    client.skip_consent = after.skip_consent
    client.require_mfa = after.require_mfa
    client.require_dpop = after.require_dpop
    client.require_par = after.require_par
    client.id_token_signed_response_alg = after.id_token_signed_response_alg
    client.access_token_signed_response_alg = after.access_token_signed_response_alg
    client.access_token_ttl = after.access_token_ttl
    client.id_token_ttl = after.id_token_ttl
    client.refresh_token_ttl = after.refresh_token_ttl
    client.introspect_apis = list(after.introspect_apis)
    client.exchange_audiences = list(after.exchange_audiences)
    client.backchannel_logout_uri = after.backchannel_logout_uri
    client.backchannel_logout_session_required = after.backchannel_logout_session_required
    return secret


def _audit_value(name: str, value: object) -> object:
    if name == "jwks":
        # Public keys, but bulky: the audit row says they changed, `client show` shows them.
        return "replaced" if value is not None else None
    return list(value) if isinstance(value, tuple) else value

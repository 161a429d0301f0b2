"""Registering and managing OAuth clients (used by the CLI; later by an admin API)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from authserver.audit.events import EventTag, record_event
from authserver.backchannel.sending import logout_uri_problem
from authserver.config import current_settings
from authserver.database_reads import read_rows
from authserver.extensions import db
from authserver.models.clients import PUBLIC_CLIENT_AUTH_METHOD, Client
from authserver.oauth.client_keys import jwk_set_problem
from authserver.oauth.client_secrets import hash_client_secret, new_client_secret
from authserver.oauth.errors import ClientRegistrationError, UnknownClient
from authserver.oauth.redirect_uris import registration_problem
from authserver.oauth.scopes import format_scope, is_valid_scope_string, parse_scope

# RFC 8628 §7.2: the device authorization grant's registered grant type.
DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8693 §2.1: the token-exchange grant (oauth/token_exchange.py).
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE_GRANT_TYPE,
    TOKEN_EXCHANGE,
)
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_AUTH_METHODS, "private_key_jwt", PUBLIC_CLIENT_AUTH_METHOD)
SIGNING_ALGORITHMS = ("RS256", "ES256", "EdDSA")

# Upper bounds for per-client token lifetimes (seconds).
# Access tokens are self-contained JWTs: services verify them locally and only the deny list (for
# those that introspect) can stop one early, so whatever is allowed here is how long a leaked
# token works. Their longest lifetime also sets how long deny-list rows are kept and how long a
# retired signing key stays published. One day covers a batch job without making that open-ended.
MAX_ACCESS_TOKEN_TTL = 86400
# ID tokens cannot be revoked at all and also keep retired keys published: the same bound.
MAX_ID_TOKEN_TTL = 86400
# Refresh tokens are stored, rotated on every use, idle-limited and revocable; the bound only
# ends grants nobody looks after. A year covers "remember this device" without being forever.
MAX_REFRESH_TOKEN_TTL = 365 * 86400


@dataclass(frozen=True)
class ClientRegistration:
    """What an operator asks for; validated by :func:`register_client`."""

    name: str
    redirect_uris: Sequence[str] = ()
    grant_types: Sequence[str] = ("authorization_code", "refresh_token")
    scope: str = "openid profile email"
    token_endpoint_auth_method: str = "client_secret_basic"
    post_logout_redirect_uris: Sequence[str] = ()
    skip_consent: bool = False
    # Every sign-in for this client needs a second factor (users without one enrol first).
    require_mfa: bool = False
    # RFC 9449 §5.2: token requests without a DPoP proof are refused; every token is bound.
    require_dpop: bool = False
    # RFC 9126 §6: authorization requests only through a pushed request (request_uri).
    require_par: bool = False
    jwks: dict[str, Any] | None = field(default=None)  # Any: a JWK Set is free-form JSON
    id_token_signed_response_alg: str = "RS256"
    access_token_signed_response_alg: str = "RS256"
    # Lifetimes in seconds for this client's tokens; None means the server-wide setting.
    access_token_ttl: int | None = None
    id_token_ttl: int | None = None
    refresh_token_ttl: int | None = None
    # RFC 7662 §4: identifiers of the APIs whose tokens this client may introspect.
    introspect_apis: Sequence[str] = ()
    # RFC 8693: identifiers of the APIs this client may exchange a user's token for.
    exchange_audiences: Sequence[str] = ()
    # OIDC Back-Channel Logout §2.2: where logout tokens go (None: none are sent), and whether
    # the client needs `sid` in them (we always send it; the flag is kept and shown).
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False


def registration_problems(request: ClientRegistration) -> list[str]:
    problems: list[str] = []
    if not request.name.strip():
        problems.append("name: must not be empty")
    problems += [
        f"grant type {grant!r}: unknown (use {', '.join(GRANT_TYPES)})"
        for grant in request.grant_types
        if grant not in GRANT_TYPES
    ]
    method = request.token_endpoint_auth_method
    if method not in AUTH_METHODS:
        problems.append(f"token endpoint auth method {method!r}: use {', '.join(AUTH_METHODS)}")
    if method == PUBLIC_CLIENT_AUTH_METHOD and "client_credentials" in request.grant_types:
        # RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
        problems.append("client_credentials: only for confidential clients")
    if method == "private_key_jwt" and request.jwks is None:
        problems.append("private_key_jwt: needs the client's public keys (a JWK Set)")
    elif method != "private_key_jwt" and request.jwks is not None:
        problems.append("jwks: only used with private_key_jwt")
    elif request.jwks is not None and (problem := jwk_set_problem(request.jwks)) is not None:
        problems.append(f"jwks: {problem}")
    if "authorization_code" in request.grant_types and not request.redirect_uris:
        problems.append("authorization_code: needs at least one redirect URI")
    for uri in (*request.redirect_uris, *request.post_logout_redirect_uris):
        if (problem := registration_problem(uri)) is not None:
            problems.append(f"redirect URI {uri!r}: {problem}")
    if not is_valid_scope_string(request.scope):
        problems.append("scope: space-separated tokens of printable ASCII, no quotes or \\")
    for alg in (request.id_token_signed_response_alg, request.access_token_signed_response_alg):
        if alg not in SIGNING_ALGORITHMS:
            problems.append(f"signing algorithm {alg!r}: use {', '.join(SIGNING_ALGORITHMS)}")
    return (
        problems
        + _lifetime_problems(request)
        + _introspection_problems(request)
        + _exchange_problems(request)
        + _backchannel_problems(request)
    )


def _backchannel_problems(request: ClientRegistration) -> list[str]:
    uri = request.backchannel_logout_uri
    if uri is None:
        if request.backchannel_logout_session_required:
            return ["backchannel_logout_session_required: needs a back-channel logout URI"]
        return []
    problem = logout_uri_problem(uri, is_production=current_settings().is_production)
    return [] if problem is None else [f"back-channel logout URI {uri!r}: {problem}"]


def _introspection_problems(request: ClientRegistration) -> list[str]:
    if request.introspect_apis and request.token_endpoint_auth_method == PUBLIC_CLIENT_AUTH_METHOD:
        # RFC 7662 §2.1: the caller must authenticate, which a public client cannot.
        return ["introspect_apis: only for confidential clients"]
    # Imported here: oauth/apis.py reads this module's limits.
    from authserver.oauth.apis import find_api

    return [
        f"introspect API {identifier!r}: no such API (see `authserver api list`)"
        for identifier in request.introspect_apis
        if find_api(identifier) is None
    ]


def _exchange_problems(request: ClientRegistration) -> list[str]:
    problems: list[str] = []
    is_exchanger = TOKEN_EXCHANGE in request.grant_types
    if is_exchanger and request.token_endpoint_auth_method == PUBLIC_CLIENT_AUTH_METHOD:
        # A token exchange turns a user's token into one for another API: only a client that
        # proves who it is may do that, so its policy (exchange_audiences) means something.
        problems.append(f"{TOKEN_EXCHANGE}: only for confidential clients")
    if request.exchange_audiences and not is_exchanger:
        problems.append(f"exchange_audiences: only with the {TOKEN_EXCHANGE} grant type")
    # Imported here: oauth/apis.py reads this module's limits.
    from authserver.oauth.apis import find_api

    return problems + [
        f"exchange audience {identifier!r}: no such API (see `authserver api list`)"
        for identifier in request.exchange_audiences
        if find_api(identifier) is None
    ]


def _lifetime_problems(request: ClientRegistration) -> list[str]:
    limits = (
        ("access_token_ttl", request.access_token_ttl, MAX_ACCESS_TOKEN_TTL, "1 day"),
        ("id_token_ttl", request.id_token_ttl, MAX_ID_TOKEN_TTL, "1 day"),
        ("refresh_token_ttl", request.refresh_token_ttl, MAX_REFRESH_TOKEN_TTL, "365 days"),
    )
    return [
        f"{name}: must be from 1 to {limit} seconds ({spelled}), got {value}"
        for name, value, limit, spelled in limits
        if value is not None and not 1 <= value <= limit
    ]


def register_client(
    request: ClientRegistration, *, via: str | None = None
) -> tuple[Client, str | None]:
    """Create a client; returns it with its secret (shown once, never stored in clear).

    ``via`` names the admin surface (such as "cli") for the audit event.
    """
    problems = registration_problems(request)
    if problems:
        raise ClientRegistrationError(*problems)
    secret = (
        new_client_secret() if request.token_endpoint_auth_method in SECRET_AUTH_METHODS else None
    )
    client = Client(
        client_id=new_client_id(),
        secret_hash=hash_client_secret(secret) if secret else None,
        name=request.name.strip(),
        redirect_uris=list(dict.fromkeys(request.redirect_uris)),
        post_logout_redirect_uris=list(dict.fromkeys(request.post_logout_redirect_uris)),
        grant_types=list(dict.fromkeys(request.grant_types)),
        scope=format_scope(parse_scope(request.scope)),
        token_endpoint_auth_method=request.token_endpoint_auth_method,
        jwks=request.jwks,
        skip_consent=request.skip_consent,
        require_mfa=request.require_mfa,
        require_dpop=request.require_dpop,
        require_par=request.require_par,
        id_token_signed_response_alg=request.id_token_signed_response_alg,
        access_token_signed_response_alg=request.access_token_signed_response_alg,
        access_token_ttl=request.access_token_ttl,
        id_token_ttl=request.id_token_ttl,
        refresh_token_ttl=request.refresh_token_ttl,
        introspect_apis=list(dict.fromkeys(request.introspect_apis)),
        exchange_audiences=list(dict.fromkeys(request.exchange_audiences)),
        backchannel_logout_uri=request.backchannel_logout_uri,
        backchannel_logout_session_required=request.backchannel_logout_session_required,
    )
    db.session.add(client)
    record_event(EventTag.CLIENT_CREATED, client_id=client.client_id, detail=_origin(via))
    db.session.commit()
    return client, secret


MAX_CLIENT_ID_LENGTH = 64  # the column's size
# Built once: every token, introspection and userinfo request looks a client up, and building
# the statement anew (and its cache key) cost more than running it (BENCHMARKS.md).
_CLIENT_BY_ID = select(Client).where(Client.client_id == bindparam("client_id"))
# Every column by name, for find_client_snapshot (the names are the attributes' names).
_CLIENT_ROW_BY_ID = select(*Client.__table__.c).where(
    Client.__table__.c.client_id == bindparam("client_id")
)
_SNAPSHOTS_EXTENSION = "authserver.client_snapshots"


def new_client_id() -> str:
    """144 random bits, base64url, never starting with "-".

    Commands take a client_id as an argument, and one starting with "-" (1 in 64 of them)
    would be read as an option: `authserver client show -x...` fails.
    """
    while (client_id := secrets.token_urlsafe(18)).startswith("-"):
        pass
    return client_id


def find_client(client_id: str) -> Client | None:
    # Ids we could never have issued are not looked up: PostgreSQL refuses NUL in text.
    if len(client_id) > MAX_CLIENT_ID_LENGTH or "\x00" in client_id:
        return None
    return db.session.scalar(_CLIENT_BY_ID, {"client_id": client_id})


def find_client_snapshot(client_id: str) -> Client | None:
    """The client as stored right now, for reading only (client authentication, grants).

    Hot path: every token, introspection and revocation request authenticates a client. The
    row is read on every call, so a rotated secret, an update or a deletion counts at once on
    every instance (DESIGN.md "Scale-out"); what is saved is SQLAlchemy's ORM work (identity
    map, instance state), about a quarter of the lookup, by reading the row with a Core
    statement and reusing this process's copy while the row is unchanged. The copy is a
    transient object shared by requests: never change it, nor add it to a session (services
    that change a client use :func:`get_client`).
    """
    if len(client_id) > MAX_CLIENT_ID_LENGTH or "\x00" in client_id:
        return None
    row = read_rows(_CLIENT_ROW_BY_ID, {"client_id": client_id}).first()
    snapshots = _snapshots()
    if row is None:
        snapshots.pop(client_id, None)
        return None
    values = tuple(row)
    known = snapshots.get(client_id)
    if known is not None and known[0] == values:
        return known[1]
    client = Client(**row._asdict())
    snapshots[client_id] = (values, client)
    return client


def _snapshots() -> dict[str, tuple[tuple[Any, ...], Client]]:  # Any: the row's column values
    # Per app (tests build many apps on different databases), shared by its threads: a dict
    # read or write is atomic, and the worst a race does is build the same copy twice.
    snapshots: dict[str, tuple[tuple[Any, ...], Client]] = current_app.extensions.setdefault(
        _SNAPSHOTS_EXTENSION, {}
    )
    return snapshots


def get_client(client_id: str) -> Client:
    client = find_client(client_id)
    if client is None:
        raise UnknownClient(client_id)
    return client


def list_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.created_at, Client.id)))


def delete_client(client_id: str, *, via: str | None = None) -> None:
    """Delete a client; its codes, refresh tokens and consents go with it (ON DELETE CASCADE)."""
    db.session.delete(get_client(client_id))
    record_event(EventTag.CLIENT_DELETED, client_id=client_id, detail=_origin(via))
    db.session.commit()


def rotate_client_secret(client_id: str, *, via: str | None = None) -> str:
    """Replace a client's secret; returns the new one. The old one stops working at once."""
    client = get_client(client_id)
    if client.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
        raise ClientRegistrationError(
            f"client uses {client.token_endpoint_auth_method!r}, which has no secret"
        )
    secret = new_client_secret()
    client.secret_hash = hash_client_secret(secret)
    record_event(EventTag.CLIENT_SECRET_ROTATED, client_id=client_id, detail=_origin(via))
    db.session.commit()
    return secret


def _origin(via: str | None) -> dict[str, str]:
    return {"via": via} if via is not None else {}


def describe_client(client: Client) -> dict[str, Any]:  # Any: JSON-ready values of mixed types
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.is_public,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scope": client.scope,
        "skip_consent": client.skip_consent,
        "require_mfa": client.require_mfa,
        "require_dpop": client.require_dpop,
        "require_par": client.require_par,  # RFC 9126 §6 require_pushed_authorization_requests
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "access_token_signed_response_alg": client.access_token_signed_response_alg,
        # None: the server-wide setting applies.
        "access_token_ttl": client.access_token_ttl,
        "id_token_ttl": client.id_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "introspect_apis": list(client.introspect_apis),
        "exchange_audiences": list(client.exchange_audiences),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "created_at": client.created_at.isoformat(),
    }

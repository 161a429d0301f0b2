"""Issuing tokens: RFC 9068 access tokens, OIDC ID tokens and rotating refresh tokens.

Issuing an access token stores nothing about the token (DESIGN.md "Tokens"): it is a signed JWT
that services verify against the JWKS. Refresh tokens are random; only their SHA-256 hash is
stored. Every token response writes one audit row (``token:issue``) naming what was issued.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authserver.accounts.roles import roles_claim
from authserver.audit.events import EventTag, log_event, record_event
from authserver.backchannel.recipients import remember_id_token_recipient
from authserver.config import current_settings
from authserver.extensions import db
from authserver.keys.signing import sign_jwt
from authserver.models.apis import Api
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User
from authserver.oauth.dpop.token_binding import DPOP_TOKEN_TYPE, refresh_token_jkt
from authserver.oauth.scopes import OPENID, format_scope
from authserver.observability.metrics import count_token_issued

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1
ID_TOKEN_TYPE = "JWT"
GRANT_ID_CLAIM = "gid"  # ties an access token to its grant, so one deny-list row revokes all
ACTOR_CLAIM = "act"  # RFC 8693 §4.1


@dataclass(frozen=True)
class Authentication:
    """How and when the user signed in; carried from the session through codes and refreshes."""

    auth_time: datetime
    acr: str
    amr: tuple[str, ...]
    session_id: str | None


@dataclass(frozen=True)
class Delegation:
    """What a token made by a token exchange (RFC 8693) says beyond an ordinary one."""

    # RFC 8693 §4.1: the `act` claim: the exchanging client, with earlier actors nested.
    act: dict[str, Any]  # Any: JSON, nested `act` members
    subject_client_id: str  # the client the exchanged (subject) token was issued to
    expires_at_most: int  # the subject token's `exp`: the new token ends no later


@dataclass(frozen=True)
class Issue:
    """Everything needed to mint one token response."""

    client: Client
    scopes: tuple[str, ...]
    now: datetime
    grant_type: str  # RFC 6749 grant_type of the request: the audit trail and the metrics
    user: User | None = None
    authentication: Authentication | None = None
    grant_id: str | None = None
    nonce: str | None = None
    # The refresh token to rotate from (None for a new family) and whether to issue one at all.
    refresh_parent: RefreshToken | None = None
    include_refresh_token: bool = False
    # The refresh token's value: None for a random one (a new family); on rotation, the
    # successor derived from the presented token (oauth/refresh_successors.py).
    refresh_token_value: str | None = None
    # True when that successor is stored already (a forgiven retry): hand it out, write nothing.
    refresh_token_stored: bool = False
    # RFC 6749 §6: a rotated refresh token keeps exactly the scope of the one it replaces.
    refresh_scopes: tuple[str, ...] | None = None
    # RFC 8707: the API the access token is for (None: the issuer) and the scopes it carries
    # (None: all of ``scopes``); the grant's scopes still decide the ID token and the roles.
    api: Api | None = None
    access_scopes: tuple[str, ...] | None = None
    # RFC 8707 §2.2: the APIs the grant is limited to, kept on its refresh tokens.
    resources: tuple[str, ...] = ()
    # RFC 9449: the thumbprint of the DPoP key the request proved; its tokens are bound to it.
    dpop_jkt: str | None = None
    # RFC 8693: set when the token is made by a token exchange, on behalf of ``user``.
    delegation: Delegation | None = None

    @property
    def access_token_scopes(self) -> tuple[str, ...]:
        return self.scopes if self.access_scopes is None else self.access_scopes


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token_response(issue: Issue) -> dict[str, Any]:  # Any: the JSON token response
    access_token, expires_in = _access_token(issue)
    response: dict[str, Any] = {
        "access_token": access_token,
        "token_type": DPOP_TOKEN_TYPE if issue.dpop_jkt else "Bearer",
        "expires_in": expires_in,
        # RFC 6749 §5.1: the access token's scope (narrower than the grant's for an API).
        "scope": format_scope(issue.access_token_scopes),
    }
    if issue.user is not None and issue.authentication is not None and OPENID in issue.scopes:
        response["id_token"] = _id_token(issue, access_token)
        if issue.authentication.session_id is not None:
            # Back-Channel Logout §2.1: this client is told when that session ends.
            remember_id_token_recipient(
                client_pk=issue.client.id, sid=issue.authentication.session_id, now=issue.now
            )
    if issue.include_refresh_token and issue.user is not None and issue.authentication:
        response["refresh_token"] = _refresh_token(issue)
    count_token_issued(issue.grant_type)
    _record_issue(issue, response)
    return response


def _record_issue(issue: Issue, response: dict[str, Any]) -> None:  # Any: the token response
    """One audit event per token response: what was issued, never the tokens themselves."""
    detail: dict[str, Any] = {
        "grant_type": issue.grant_type,
        "scope": response["scope"],
        "issued": sorted(
            name for name in ("access_token", "id_token", "refresh_token") if name in response
        ),
    }
    if issue.grant_id is not None:
        detail["grant_id"] = issue.grant_id
    if issue.refresh_token_stored:
        # A retry after a lost answer, forgiven once (oauth/refresh_rotation.py).
        detail["refresh_token_repeated"] = True
    if issue.api is not None:
        detail["resource"] = issue.api.identifier
    tag = EventTag.TOKEN_ISSUED
    if issue.delegation is not None:
        tag = EventTag.TOKEN_EXCHANGED
        detail["subject_client_id"] = issue.delegation.subject_client_id
        detail["actors"] = actor_chain(issue.delegation.act)
    if issue.user is None:
        # Client-credentials tokens are machine traffic (hundreds a minute per client) whose
        # issue otherwise writes nothing (DESIGN.md "Tokens": no database write per access
        # token): they get the audit log line and the metrics count, not a row. Tokens for a
        # user come with a refresh token or code redemption written anyway, and get the row.
        log_event(EventTag.TOKEN_ISSUED, client_id=issue.client.client_id, detail=detail)
        return
    record_event(
        tag,
        user_subject=issue.user.subject,
        client_id=issue.client.client_id,
        detail=detail,
    )


def _access_token(issue: Issue) -> tuple[str, int]:
    settings = current_settings()
    api = issue.api
    lifetime = (
        (api.access_token_ttl if api is not None else None)
        or issue.client.access_token_ttl
        or settings.access_token_ttl
    )
    iat = int(issue.now.timestamp())
    if issue.delegation is not None:
        # RFC 8693 §2.2 leaves the lifetime to us: never past the subject token's end, or an
        # exchange (or a chain of them) would outlive the user's delegation.
        lifetime = min(lifetime, issue.delegation.expires_at_most - iat)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        # RFC 9068 §2.2: for client credentials, `sub` is the client itself.
        "sub": issue.user.subject if issue.user else issue.client.client_id,
        # RFC 8707 §2 / RFC 9068 §2.2: the API asked for, so no other service accepts it.
        "aud": api.identifier if api is not None else settings.issuer,
        "client_id": issue.client.client_id,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": secrets.token_urlsafe(16),
        "scope": format_scope(issue.access_token_scopes),
    }
    if issue.authentication is not None:
        claims["auth_time"] = int(issue.authentication.auth_time.timestamp())
        claims["acr"] = issue.authentication.acr
        claims["amr"] = list(issue.authentication.amr)
    if issue.grant_id is not None:
        claims[GRANT_ID_CLAIM] = issue.grant_id
    if issue.dpop_jkt is not None:
        claims["cnf"] = {"jkt": issue.dpop_jkt}  # RFC 9449 §6.1
    if issue.delegation is not None:
        claims[ACTOR_CLAIM] = issue.delegation.act
    if issue.user is not None:
        # RFC 9068 §2.2.3.1: `roles` (SCIM's attribute) may describe the user to the resource
        # server; released only when the client was granted the `roles` scope.
        claims.update(roles_claim(issue.user, issue.scopes))
    alg = issue.client.access_token_signed_response_alg
    return sign_jwt(claims, alg=alg, typ=ACCESS_TOKEN_TYPE), lifetime


def actor_chain(act: dict[str, Any]) -> list[str]:  # Any: JSON, nested `act` members
    """The actors' `sub`s, the current one first (RFC 8693 §4.1: outermost is current)."""
    chain: list[str] = []
    current: object = act
    while isinstance(current, dict) and isinstance(current.get("sub"), str):
        chain.append(current["sub"])
        current = current.get(ACTOR_CLAIM)
    return chain


def _id_token(issue: Issue, access_token: str) -> str:
    """OIDC Core §2 and §3.1.3.6."""
    assert issue.user is not None and issue.authentication is not None
    alg = issue.client.id_token_signed_response_alg
    iat = int(issue.now.timestamp())
    claims: dict[str, Any] = {
        "iss": current_settings().issuer,
        "sub": issue.user.subject,
        "aud": issue.client.client_id,
        "azp": issue.client.client_id,
        "iat": iat,
        "exp": iat + (issue.client.id_token_ttl or current_settings().id_token_ttl),
        "auth_time": int(issue.authentication.auth_time.timestamp()),
        "acr": issue.authentication.acr,
        "amr": list(issue.authentication.amr),
        "at_hash": token_hash_claim(access_token, alg),
    }
    if issue.nonce is not None:
        claims["nonce"] = issue.nonce
    if issue.authentication.session_id is not None:
        claims["sid"] = issue.authentication.session_id
    claims.update(roles_claim(issue.user, issue.scopes))
    return sign_jwt(claims, alg=alg, typ=ID_TOKEN_TYPE)


def token_hash_claim(token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the token's hash, with the JWS algorithm's hash.

    Ed25519 signs with SHA-512 internally, so its half-hash uses SHA-512 as well.
    """
    digest = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
    full = digest(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(full[: len(full) // 2]).decode().rstrip("=")


def _refresh_token(issue: Issue) -> str:
    assert issue.user is not None and issue.authentication is not None
    token = issue.refresh_token_value or secrets.token_urlsafe(32)  # 256 bits
    if issue.refresh_token_stored:
        return token
    parent = issue.refresh_parent
    absolute_end = (
        parent.expires_at
        if parent is not None
        else issue.now
        + timedelta(seconds=issue.client.refresh_token_ttl or current_settings().refresh_token_ttl)
    )
    idle_end = issue.now + timedelta(seconds=current_settings().refresh_token_idle_ttl)
    family_id = issue.grant_id or str(uuid.uuid4())
    # Core INSERTs in the request's transaction (committed with the rest of the response):
    # nothing reads these rows back as objects, so the ORM's unit of work would only add cost.
    # The family goes first, as the token refers to it.
    if parent is None:
        db.session.execute(
            _INSERT_FAMILY,
            {
                "id": family_id,
                "client_pk": issue.client.id,
                "user_id": issue.user.id,
                "created_at": issue.now,
            },
        )
    db.session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "token_hash": hash_refresh_token(token),
            "family_id": family_id,
            "parent_id": parent.id if parent is not None else None,
            "client_pk": issue.client.id,
            "user_id": issue.user.id,
            "scope": format_scope(issue.refresh_scopes or issue.scopes),
            "resources": list(issue.resources),
            "session_id": issue.authentication.session_id,
            "auth_time": issue.authentication.auth_time,
            "acr": issue.authentication.acr,
            "amr": list(issue.authentication.amr),
            "created_at": issue.now,
            "expires_at": absolute_end,
            "idle_expires_at": min(idle_end, absolute_end),
            "dpop_jkt": refresh_token_jkt(
                is_public_client=issue.client.is_public, jkt=issue.dpop_jkt
            ),
        },
    )
    return token


_INSERT_FAMILY = RefreshFamily.__table__.insert()
_INSERT_REFRESH_TOKEN = RefreshToken.__table__.insert()

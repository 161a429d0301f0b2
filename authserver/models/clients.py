"""OAuth clients (relying parties) and the assertion ids they have used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import UTCDateTime, utcnow

PUBLIC_CLIENT_AUTH_METHOD = "none"


class Client(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's dynamic base
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # A keyed hash of a 256-bit random secret; None for public clients and private_key_jwt.
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(1000), default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    # RFC 7523 private_key_jwt: the client's public keys, as a JWK Set.
    jwks: Mapped[dict[str, object] | None] = mapped_column(JSON)
    skip_consent: Mapped[bool] = mapped_column(default=False)
    # Every sign-in for this client needs a second factor, whatever acr_values it sends.
    require_mfa: Mapped[bool] = mapped_column(default=False, server_default=false())
    # RFC 9449 §5.2 (`dpop_bound_access_tokens`): token requests without a DPoP proof are
    # refused, so every token this client holds is bound to a key it keeps.
    require_dpop: Mapped[bool] = mapped_column(default=False, server_default=false())
    # RFC 9126 §6 (`require_pushed_authorization_requests`): authorization requests must come
    # through a pushed request (request_uri); parameters in the browser's URL are refused.
    require_par: Mapped[bool] = mapped_column(default=False, server_default=false())
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    access_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    # Per-client lifetimes; None means the server-wide setting.
    access_token_ttl: Mapped[int | None] = mapped_column()
    id_token_ttl: Mapped[int | None] = mapped_column()
    refresh_token_ttl: Mapped[int | None] = mapped_column()
    # RFC 7662 §4: the APIs (by identifier) whose access tokens this client may introspect,
    # as their resource server. A JSON list, read with the client on every introspection.
    introspect_apis: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # RFC 8693 §2.1: the APIs (by identifier) this client may ask for as `audience` or
    # `resource` when it exchanges a user's token (the token-exchange grant).
    exchange_audiences: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # OIDC Back-Channel Logout §2.2: where logout tokens are POSTed; None: the client gets none.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    # §2.2 `backchannel_logout_session_required`: the client needs `sid` in logout tokens.
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_CLIENT_AUTH_METHOD

    @property
    def allowed_scopes(self) -> set[str]:
        return set(self.scope.split())


class ClientAssertionJti(db.Model):  # type: ignore[name-defined,misc]
    """RFC 7523 §3 item 7: a client assertion's `jti` may be used only once (until it expires)."""

    __tablename__ = "client_assertion_jtis"
    __table_args__ = (UniqueConstraint("client_pk", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

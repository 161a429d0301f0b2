"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9)."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.clients import ClientAssertionJti
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.clients import SIGNING_ALGORITHMS, find_client

log = logging.getLogger(__name__)

TOKEN_ENDPOINT_PATH = "/oauth/token"
PAR_ENDPOINT_PATH = "/oauth/par"
# An assertion without a usable `exp` still blocks its jti this long.
DEFAULT_JTI_RETENTION = timedelta(hours=1)


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]  # Authlib ships no hints
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        # RFC 7523 §3: the audience identifies the server; the token endpoint URL (OIDC Core §9)
        # and the issuer identifier are both accepted, as RFC 7523bis recommends; RFC 9126 §2
        # adds the PAR endpoint's URL.
        settings = current_settings()
        return [
            settings.issuer + TOKEN_ENDPOINT_PATH,
            settings.issuer,
            settings.issuer + PAR_ENDPOINT_PATH,
        ]

    def resolve_client_public_key(self, client: AuthlibClient) -> KeySet:
        registered: Any = client.model.jwks or {"keys": []}  # Any: validated at registration
        try:
            return KeySet.import_key_set(registered)
        except (JoseError, ValueError, TypeError) as exc:
            # Only rows that bypassed registration get here; the client cannot authenticate,
            # which is its problem to fix, not a server error.
            log.warning("client %s has unusable jwks: %s", client.model.client_id, exc)
            raise InvalidClientError(
                description="The client's registered keys are unusable."
            ) from exc

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """RFC 7523 §3 item 7: remember each jti until its assertion expires; reuse fails."""
        # Authlib has verified the signature and that iss == sub == the client's id.
        client = find_client(str(claims["sub"]))
        if client is None:
            return False
        insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(ClientAssertionJti)
            .values(client_pk=client.id, jti=str(jti)[:255], expires_at=_expiry(claims))
            .on_conflict_do_nothing(index_elements=["client_pk", "jti"])
            # RETURNING, not rowcount: drivers report -1 rows for INSERT ... RETURNING.
            .returning(ClientAssertionJti.id)
        )
        # Its own transaction, committed now: the jti is spent even when the rest of the
        # request fails or (introspection, revocation) never commits anything.
        with db.engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        """Accept the algorithms discovery advertises; joserfc alone would refuse EdDSA."""
        try:
            with warnings.catch_warnings():
                # RFC 9864 deprecates the name "EdDSA" (for "Ed25519"), not the algorithm;
                # it is the name clients send today, and discovery advertises it.
                warnings.simplefilter("ignore", SecurityWarning)
                token = jwt.decode(assertion, resolve_key, algorithms=list(SIGNING_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(description=exc.description) from exc
        self.verify_claims(token.claims)
        claims: dict[str, Any] = token.claims
        return claims


def _expiry(claims: dict[str, Any]) -> datetime:
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return datetime.fromtimestamp(exp, UTC)
    return datetime.now(UTC) + DEFAULT_JTI_RETENTION

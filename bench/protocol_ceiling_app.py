"""The protocol ceiling (issue 11): a bare Flask + Authlib app that issues and introspects tokens.

It does what our token and introspection endpoints do for a service client, with nothing else:
client credentials over HTTP Basic (the secret compared in memory, in constant time), an
RFC 9068 access token signed with a key loaded once (Authlib's JWTBearerTokenGenerator, joserfc
underneath), and RFC 7662 introspection that verifies such a token (signature, exp, iss) without
any store. Served by the same gunicorn settings as authserver, it is the most a Flask + Authlib
server could do for these requests on this machine; our client credentials and introspection
are reported as fractions of it.

Every worker must sign with the same key, or a token minted by one would not verify in
another: the harness makes the keys and clients once (make_config) and names the file with
them in CONFIG_ENV; gunicorn builds each worker's app with ``create_app()``.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTIntrospectionEndpoint
from flask import Flask, Response
from flask.typing import ResponseReturnValue
from joserfc.jwk import ECKey, KeySet, RSAKey

CONFIG_ENV = "BENCH_PROTOCOL_CEILING"
ALGORITHMS = ("ES256", "RS256")
RSA_KEY_BITS = 2048  # as authserver/keys/algorithms.py
HEALTHY = json.dumps({"status": "ok", "ceiling": "protocol"}).encode()


def client_id_for(alg: str) -> str:
    return f"ceiling-{alg.lower()}"


def make_config(*, issuer: str, scope: str, lifetime_seconds: int) -> dict[str, Any]:
    """One signing key and one client per algorithm, as JSON the app reads at start."""
    keys = KeySet(
        [
            ECKey.generate_key("P-256", {"alg": "ES256", "use": "sig"}, auto_kid=True),
            RSAKey.generate_key(RSA_KEY_BITS, {"alg": "RS256", "use": "sig"}, auto_kid=True),
        ]
    )
    clients = [
        {"client_id": client_id_for(alg), "client_secret": secrets.token_urlsafe(32), "alg": alg}
        for alg in ALGORITHMS
    ]
    return {
        "issuer": issuer,
        "scope": scope,
        "lifetime_seconds": lifetime_seconds,
        "keys": keys.as_dict(private=True),
        "clients": clients,
    }


def write_config(path: Path, config: dict[str, Any]) -> None:
    # Private keys and client secrets: readable by us only, created that way (no window).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(config, handle)


@dataclass(frozen=True)
class CeilingClient(ClientMixin):  # type: ignore[misc]  # Authlib ships no type hints
    client_id: str
    client_secret: str
    alg: str
    scope: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # As authserver: no scope asked for means every scope the client has.
        if not scope:
            return self.scope
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class AccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 tokens with the claims authserver puts in a client-credentials token."""

    def __init__(self, issuer: str, alg: str, keys: KeySet, lifetime_seconds: int) -> None:
        super().__init__(issuer, alg=alg, expires_generator=lifetime_seconds)
        self.keys = keys

    def get_jwks(self) -> KeySet:
        return self.keys  # parsed once at start; joserfc picks this algorithm's key and kid

    def get_audiences(self, client: CeilingClient, user: Any, scope: str) -> str:
        return str(self.issuer)  # authserver's `aud` without a resource indicator

    def get_jti(self, client: CeilingClient, grant_type: str, user: Any, scope: str) -> str:
        return secrets.token_urlsafe(16)  # authserver's jti: 128 random bits


class AccessTokenIntrospection(JWTIntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662 for our own JWT access tokens: signature, exp and iss, nothing looked up."""

    def __init__(self, issuer: str, keys: KeySet) -> None:
        super().__init__(issuer)
        self.keys = keys

    def get_jwks(self) -> KeySet:
        return self.keys

    def check_permission(self, token: Any, client: CeilingClient, request: Any) -> bool:
        return True  # as authserver: any confidential client may inspect an access token

    def create_introspection_payload(self, token: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().create_introspection_payload(token)
        if payload["active"]:
            payload["jti"] = token["jti"]  # authserver answers with the jti too
        return payload


class UnknownTokens(IntrospectionEndpoint):  # type: ignore[misc]
    """Where Authlib's JWT endpoint hands over what it could not verify (a bad signature, an
    unknown kid, another issuer, not a JWT): with no store, such a token is not active."""

    def query_token(self, token_string: str, token_type_hint: str | None) -> None:
        return None

    def check_permission(self, token: Any, client: CeilingClient, request: Any) -> bool:
        return True


def read_config() -> dict[str, Any]:
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} must name the file make_config() wrote")
    config: dict[str, Any] = json.loads(Path(path).read_text())
    return config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    config = config or read_config()
    issuer, scope = config["issuer"], config["scope"]
    private_keys = KeySet.import_key_set(config["keys"])
    public_keys = KeySet.import_key_set(private_keys.as_dict(private=False))
    clients = {
        entry["client_id"]: CeilingClient(scope=scope, **entry) for entry in config["clients"]
    }
    generators = {
        alg: AccessTokens(issuer, alg, private_keys, config["lifetime_seconds"])
        for alg in ALGORITHMS
    }

    def generate_token(grant_type: str, client: CeilingClient, *args: Any, **kwargs: Any) -> Any:
        return generators[client.alg](grant_type, client, *args, **kwargs)

    app = Flask(__name__)
    server = AuthorizationServer(
        app,
        query_client=clients.get,
        save_token=lambda token, request: None,  # nothing stored: the token is a signed JWT
    )
    server.register_token_generator("default", generate_token)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(AccessTokenIntrospection(issuer, public_keys))
    server.register_endpoint(UnknownTokens)

    @app.post("/oauth/token")
    def token() -> ResponseReturnValue:
        response: Response = server.create_token_response()
        return response

    @app.post("/oauth/introspect")
    def introspect() -> ResponseReturnValue:
        response: Response = server.create_endpoint_response("introspection")
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(HEALTHY, mimetype="application/json")

    return app

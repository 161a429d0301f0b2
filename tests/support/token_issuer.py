"""A stand-in issuer on loopback for the verifier kit's tests: discovery, a JWKS, introspection.

    with loopback_issuer() as issuer:                  # http://127.0.0.1:<port>, one RS256 key
        kid = issuer.add_key("ES256")
        token = issuer.mint(scope="orders.read", cnf={"jkt": client.jkt})
        issuer.jwks_fetches                            # GET requests the JWKS has had

It signs with throwaway keys of its own, so tests can make tokens authserver would never issue
(DPoP-bound ones today, forged and malformed ones always) and check the kit's refusals honestly.
``DPoPClient`` makes proofs the way a client does (RFC 9449 §4.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

API = "https://api.example.test"
INTROSPECTION_CLIENT = ("resource-server", "s3cret value")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_private_key(alg: str) -> PrivateKey:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))  # type: ignore[no-any-return]
    if isinstance(public, ec.EllipticCurvePublicKey):
        return jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    return jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638, written out here rather than taken from the kit under test."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    required = {name: jwk[name] for name in members[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """header.payload, for tokens the test signs (or leaves unsigned) by hand."""
    parts = (json.dumps(part, separators=(",", ":")).encode() for part in (header, claims))
    return ".".join(b64url(part) for part in parts)


@dataclass
class LoopbackIssuer:
    port: int
    keys: dict[str, tuple[str, PrivateKey]] = field(default_factory=dict)
    cache_control: str | None = "public, max-age=900"
    age: str | None = None
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    # Introspection: which jtis are active, and the Authorization headers it was sent.
    active_jtis: set[str] = field(default_factory=set)
    introspection_auth: list[str] = field(default_factory=list)
    discovery_issuer: str | None = None  # to publish a discovery document naming another issuer
    jwks_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_key(self, alg: str = "RS256") -> str:
        kid = secrets.token_urlsafe(8)
        self.keys[kid] = (alg, new_private_key(alg))
        return kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**public_jwk(key), "kid": kid, "alg": alg, "use": "sig"}
                for kid, (alg, key) in self.keys.items()
            ]
        }

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "user-123",
            "aud": API,
            "client_id": "client-abc",
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(12),
            "scope": "orders.read orders.write",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self, *, kid: str | None = None, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token signed with ``kid`` (default: the first key); ``header`` entries are added."""
        kid = kid or next(iter(self.keys))
        alg, key = self.keys[kid]
        headers = {"typ": "at+jwt", "kid": kid, **(header or {})}
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers=headers)

    def introspection_answer(self, token: str) -> dict[str, Any]:
        claims = jwt.decode(token, options={"verify_signature": False})
        return (
            {"active": True, **claims}
            if claims.get("jti") in self.active_jtis
            else {"active": False}
        )


@dataclass
class DPoPClient:
    """A client's proof-of-possession key and the proofs it signs (RFC 9449 §4.2)."""

    alg: str = "ES256"
    key: PrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = new_private_key(self.alg)

    @property
    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.key)

    @property
    def jkt(self) -> str:
        return thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            payload["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(payload, self.key, algorithm=self.alg, headers=headers)


def _handler(issuer: LoopbackIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                with issuer.lock:
                    issuer.discovery_fetches += 1
                self._json(
                    200,
                    {
                        "issuer": issuer.discovery_issuer or issuer.url,
                        "jwks_uri": issuer.url + "/jwks.json",
                        "introspection_endpoint": issuer.url + "/introspect",
                    },
                )
            elif self.path == "/jwks.json":
                with issuer.lock:
                    issuer.jwks_fetches += 1
                headers = {"Cache-Control": issuer.cache_control, "Age": issuer.age}
                self._json(issuer.jwks_status, issuer.jwks(), headers)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            if self.path != "/introspect":
                self._json(404, {"error": "not_found"})
                return
            authorization = self.headers.get("Authorization", "")
            issuer.introspection_auth.append(authorization)
            expected = base64.b64encode(":".join(INTROSPECTION_CLIENT).replace(" ", "+").encode())
            if authorization != "Basic " + expected.decode():
                self._json(401, {"error": "invalid_client"})
                return
            self._json(200, issuer.introspection_answer(form["token"][0]))

        def _json(
            self, status: int, body: Any, headers: dict[str, str | None] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                if value is not None:
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's output stays the test's

    return Handler


@contextmanager
def loopback_issuer(alg: str = "RS256") -> Iterator[LoopbackIssuer]:
    issuer = LoopbackIssuer(port=0)
    issuer.add_key(alg)
    # Port 0: the system picks a free one while binding, so no other process can take it first.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.port = server.server_address[1]
    # A short poll interval: shutdown() waits up to one interval, on every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

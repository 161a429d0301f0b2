"""A software authenticator for HTTP tests: makes passkeys and signs assertions the way a
browser and a platform authenticator would (WebAuthn Level 3 §6.1, §6.5, attestation "none").

Test code, written from the specification with ``cryptography`` (P-256, ES256) and ``cbor2``
for the encoding, so the server's use of the ``webauthn`` library is checked against an
independent implementation. Each knob a refusal test needs is an argument: the origin, the RP
id, the flags, the counter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD
from tests.support.account import the_user
from tests.support.web import csrf_token, sign_in

ORIGIN = "http://localhost"
RP_ID = "localhost"
# Authenticator data flags (WebAuthn §6.1).
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftPasskey:
    """One credential: its id, its private key, the user handle it was made for, its counter."""

    user_handle: bytes
    synced: bool = False
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    sign_count: int = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # RFC 9053 §7.1.1 EC2 key: kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def flags(self, *, uv: bool) -> int:
        value = UP | (UV if uv else 0)
        return value | (BE | BS if self.synced else 0)

    def create(
        self, options: dict[str, Any], *, origin: str = ORIGIN, rp_id: str = RP_ID, uv: bool = True
    ) -> dict[str, Any]:
        """The JSON a browser posts back from navigator.credentials.create(options)."""
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        attested = (
            bytes(16)  # AAGUID: none given
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_key()
        )
        auth_data = _auth_data(rp_id, self.flags(uv=uv) | AT, self.sign_count) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        uv: bool = True,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """The JSON a browser posts back from navigator.credentials.get(options)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        auth_data = _auth_data(rp_id, self.flags(uv=uv), self.sign_count)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    ).encode()


def _auth_data(rp_id: str, flags: int, sign_count: int) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)


# --- driving the pages as templates/static/passkeys.js does ----------------------------------


def token_of(client: FlaskClient, page: str = "/account") -> str:
    return csrf_token(client.get(page).text)


def post_form(
    client: FlaskClient, path: str, fields: dict[str, Any] | None = None, *, page: str = "/account"
) -> TestResponse:
    """As templates/static/passkeys.js posts: a form, the browser's answer as JSON text."""
    data = {"csrf_token": token_of(client, page)}
    for name, value in (fields or {}).items():
        data[name] = value if isinstance(value, str) else json.dumps(value)
    referer = {"Referer": "http://localhost" + page}
    # Closed, as a server closes it: mail sent after the response has gone out.
    return client.post(path, data=data, headers=referer, buffered=True)


def options(client: FlaskClient, path: str, *, page: str) -> dict[str, Any]:
    response = post_form(client, path, page=page)
    assert response.status_code == 200, response.text
    return json.loads(response.text)  # type: ignore[no-any-return]


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    return client


def register(client: FlaskClient, passkey: SoftPasskey, **answer: Any) -> TestResponse:
    created = options(client, "/account/passkeys/options", page="/account")
    return post_form(client, "/account/passkeys", {"credential": passkey.create(created, **answer)})


def a_passkey(*, synced: bool = False) -> SoftPasskey:
    return SoftPasskey(user_handle=the_user().subject.encode(), synced=synced)


def passkey_sign_in(client: FlaskClient, passkey: SoftPasskey, **answer: Any) -> TestResponse:
    asked = options(client, "/login/passkey/options", page="/login")
    body = {"credential": passkey.get(asked, **answer), "next": "/account"}
    return post_form(client, "/login/passkey", body, page="/login")


def registered(app: Flask, *, synced: bool = False) -> SoftPasskey:
    passkey = a_passkey(synced=synced)
    response = register(signed_in(app), passkey)
    assert response.status_code == 200, response.text
    return passkey

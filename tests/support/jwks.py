"""Checking our tokens the way a downstream service would: PyJWT against the served JWKS."""

from __future__ import annotations

from typing import Any

import jwt
from flask.testing import FlaskClient

JWKS_PATH = "/.well-known/jwks.json"


def fetch_jwks(client: FlaskClient) -> dict[str, Any]:
    response = client.get(JWKS_PATH)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json
    return document


def published_kids(client: FlaskClient) -> list[str]:
    return [key["kid"] for key in fetch_jwks(client)["keys"]]


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def verify(client: FlaskClient, token: str, *, alg: str) -> dict[str, Any]:
    """The claims, if PyJWT (never our own code) accepts the signature with the served JWKS."""
    document = fetch_jwks(client)
    keyset = jwt.PyJWKSet.from_dict(document)
    assert len(keyset.keys) == len(document["keys"]), "PyJWT could not use every published key"
    return jwt.decode(token, keyset[header_of(token)["kid"]], algorithms=[alg])

"""The token endpoint: client authentication, refresh rotation, client credentials, errors."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from authserver.oauth.client_update import update_client
from authserver.oauth.clients import delete_client, rotate_client_secret
from tests.conftest import AppFactory
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
    verify_jwt,
)


def tokens_for(client: FlaskClient, rp: RelyingParty, **kwargs: Any) -> dict[str, Any]:
    pkce = Pkce()
    code = obtain_code(client, rp, pkce, **kwargs)
    response = exchange_code(client, rp, code, pkce)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def refresh(client: FlaskClient, rp: RelyingParty, token: str, **extra: str) -> Any:
    return token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": token, **extra}
    )


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


def test_refresh_rotates_and_the_old_token_then_fails(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)

    rotated = refresh(signed_in, rp, first["refresh_token"])

    assert rotated.status_code == 200
    assert rotated.json["refresh_token"] != first["refresh_token"]
    claims = verify_jwt(signed_in, rotated.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["scope"] == "openid profile email offline_access"
    # Once the successor is used, the old token is spent (a lost answer's retry aside, which
    # tests/oauth/test_refresh_grace.py covers).
    assert refresh(signed_in, rp, rotated.json["refresh_token"]).status_code == 200
    assert refresh(signed_in, rp, first["refresh_token"]).json["error"] == "invalid_grant"


def test_reusing_a_rotated_token_revokes_the_whole_family(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp)
    second = refresh(signed_in, rp, first["refresh_token"]).json

    # After the grace for a lost answer (tests/oauth/test_refresh_grace.py), a reuse is theft.
    later = datetime.now(UTC) + timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        reuse = refresh(signed_in, rp, first["refresh_token"])

    assert reuse.status_code == 400
    assert reuse.json["error"] == "invalid_grant"
    assert refresh(signed_in, rp, second["refresh_token"]).json["error"] == "invalid_grant"
    events = db.session.scalars(select(AuditEvent.event)).all()
    assert "token:refresh-reuse:failure" in events


def test_scope_can_be_narrowed_but_never_widened(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp, scope="openid email offline_access")

    narrowed = refresh(signed_in, rp, first["refresh_token"], scope="openid offline_access")
    assert narrowed.status_code == 200
    assert narrowed.json["scope"] == "openid offline_access"

    widened = refresh(signed_in, rp, narrowed.json["refresh_token"], scope="openid profile")
    assert widened.status_code == 400
    assert widened.json["error"] == "invalid_scope"


def test_rotated_token_keeps_the_original_scope(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    first = tokens_for(signed_in, rp, scope="openid email offline_access")
    narrowed = refresh(signed_in, rp, first["refresh_token"], scope="openid offline_access").json

    again = refresh(signed_in, rp, narrowed["refresh_token"])

    assert again.json["scope"] == "openid email offline_access"


def test_openid_requests_get_a_refresh_token_only_with_offline_access(
    signed_in: FlaskClient,
) -> None:
    rp = make_relying_party()

    without = tokens_for(signed_in, rp, scope="openid email")

    assert "refresh_token" not in without
    assert without["id_token"]


def test_concurrent_refreshes_with_one_token_hand_out_one_successor(
    app: Flask, signed_in: FlaskClient
) -> None:
    rp = make_relying_party()
    token = tokens_for(signed_in, rp)["refresh_token"]
    headers = rp.basic_auth()
    db.session.remove()  # the threads use connections of their own
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        with app.app_context():
            barrier.wait()
            response = app.test_client().post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": token},
                headers=headers,
            )
            statuses.append(response.status_code)
            db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # The rotation and one retry forgiven as a lost answer (test_refresh_grace.py); the other
    # two are reuse, which revokes the family.
    assert sorted(statuses) == [200, 200, 400, 400]


def test_client_secret_post_authenticates(signed_in: FlaskClient) -> None:
    rp = make_relying_party(token_endpoint_auth_method="client_secret_post")

    assert "access_token" in tokens_for(signed_in, rp)


def test_public_client_authenticates_with_none_and_pkce(signed_in: FlaskClient) -> None:
    rp = make_relying_party(token_endpoint_auth_method="none")

    body = tokens_for(signed_in, rp)

    assert rp.secret is None
    assert body["refresh_token"]


def test_wrong_secret_is_invalid_client_401(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    pkce = Pkce()
    code = obtain_code(signed_in, rp, pkce)
    rp.secret = "wrong"

    response = exchange_code(signed_in, rp, code, pkce)

    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


def test_code_is_bound_to_its_client(signed_in: FlaskClient) -> None:
    rp, other = make_relying_party(), make_relying_party(name="Other")
    pkce = Pkce()
    code = obtain_code(signed_in, rp, pkce)

    response = exchange_code(signed_in, other, code, pkce)

    assert response.json["error"] == "invalid_grant"
    assert exchange_code(signed_in, rp, code, pkce).status_code == 200, "the code survived"


def test_code_is_bound_to_its_redirect_uri(signed_in: FlaskClient) -> None:
    rp = make_relying_party(
        redirect_uris=("https://rp.example.com/callback", "https://rp.example.com/other")
    )
    pkce = Pkce()
    code = obtain_code(signed_in, rp, pkce)

    response = exchange_code(signed_in, rp, code, pkce, redirect_uri="https://rp.example.com/other")

    assert response.json["error"] == "invalid_grant"


def test_missing_code_verifier_is_invalid_request(signed_in: FlaskClient) -> None:
    rp = make_relying_party()
    code = obtain_code(signed_in, rp, Pkce())

    response = exchange_code(signed_in, rp, code, None)

    assert response.json["error"] == "invalid_request"


def test_unknown_grant_type_is_unsupported(signed_in: FlaskClient) -> None:
    rp = make_relying_party()

    response = token_request(signed_in, rp, {"grant_type": "password"})

    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


def test_grant_the_client_may_not_use_is_unauthorized_client(signed_in: FlaskClient) -> None:
    rp = make_relying_party()

    response = token_request(signed_in, rp, {"grant_type": "client_credentials"})

    assert response.json["error"] == "unauthorized_client"


def test_client_credentials_issue_an_access_token_for_the_client(client: FlaskClient) -> None:
    rp = make_relying_party(
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="api:read api:write",
        access_token_signed_response_alg="ES256",
    )

    response = token_request(client, rp, {"grant_type": "client_credentials", "scope": "api:read"})

    assert response.status_code == 200, response.json
    assert "refresh_token" not in response.json and "id_token" not in response.json
    claims = verify_jwt(client, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["sub"] == rp.client_id
    assert claims["scope"] == "api:read"
    assert jwt.get_unverified_header(response.json["access_token"])["alg"] == "ES256"


def test_client_credentials_refuse_scopes_beyond_the_client(client: FlaskClient) -> None:
    rp = make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api:read")

    response = token_request(client, rp, {"grant_type": "client_credentials", "scope": "api:admin"})

    assert response.json["error"] == "invalid_scope"


def private_key_jwt_client(key: rsa.RSAPrivateKey) -> RelyingParty:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update(kid="rp-key-1", alg="RS256", use="sig")
    return make_relying_party(
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="api:read",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )


def client_assertion(key: rsa.RSAPrivateKey, client_id: str, jti: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + "/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": jti,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "rp-key-1"})


def test_private_key_jwt_authenticates_once_per_jti(client: FlaskClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rp = private_key_jwt_client(key)
    assertion = client_assertion(key, rp.client_id, str(uuid.uuid4()))
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }

    first = client.post("/oauth/token", data=data)
    replay = client.post("/oauth/token", data=data)

    assert first.status_code == 200, first.json
    assert replay.status_code in (400, 401)
    assert replay.json["error"] == "invalid_client"


def test_private_key_jwt_signed_by_another_key_is_refused(client: FlaskClient) -> None:
    rp = private_key_jwt_client(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(stranger, rp.client_id, "j1"),
        },
    )

    assert response.json["error"] == "invalid_client"


def test_client_credentials_without_scope_get_all_the_client_api_scopes(
    client: FlaskClient,
) -> None:
    rp = make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api:read")
    raw = f"{rp.client_id}:{rp.secret}".encode()

    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )

    assert response.status_code == 200
    assert response.json["scope"] == "api:read"


def test_another_instance_sees_a_rotated_updated_or_deleted_client_at_once(
    app: Flask, make_app: AppFactory
) -> None:
    # DESIGN.md "Scale-out": instances share the database; each may keep copies of client
    # rows, but a change made through any instance applies on the next request everywhere.
    serving, admin = app.test_client(), make_app()
    rp = make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api")
    grant = {"grant_type": "client_credentials"}
    assert token_request(serving, rp, grant).json["scope"] == "api"  # the instance knows it now

    with admin.app_context():
        new_secret = rotate_client_secret(rp.client_id)
    refused = token_request(serving, rp, grant)
    assert (refused.status_code, refused.json["error"]) == (401, "invalid_client")
    rotated = RelyingParty(rp.client, new_secret)
    assert token_request(serving, rotated, grant).status_code == 200

    with admin.app_context():
        update_client(rp.client_id, {"scope": "api reports"})
    assert token_request(serving, rotated, grant).json["scope"] == "api reports"

    with admin.app_context():
        delete_client(rp.client_id)
    gone = token_request(serving, rotated, grant)
    assert (gone.status_code, gone.json["error"]) == (401, "invalid_client")

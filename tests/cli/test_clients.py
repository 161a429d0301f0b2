"""``authserver client``: register, list, show, delete and re-key OAuth clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from authserver.cli import main
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models.audit import AuditEvent
from authserver.models.clients import Client
from authserver.models.tokens import AuthorizationCode, Consent, RefreshToken
from authserver.oauth.clients import get_client
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    exchange_code,
    make_user,
    obtain_code,
    sign_in,
    token_request,
    verify_jwt,
)

CALLBACK = "https://rp.example.com/callback"
LOOPBACK_CALLBACK = "http://127.0.0.1:8080/callback"
LOGGED_OUT = "https://rp.example.com/logged-out"
BATCH = ("--grant-type", "client_credentials", "--scope", "api:read")


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def invoke_json(runner: FlaskCliRunner, *args: str) -> Any:  # Any: the command's JSON
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def create(runner: FlaskCliRunner, *args: str) -> dict[str, Any]:
    created: dict[str, Any] = invoke_json(runner, "client", "create", *args)
    return created


def count(model: type[Any]) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def audit_events() -> list[tuple[str, str | None, dict[str, Any]]]:
    rows = db.session.execute(
        select(AuditEvent.event, AuditEvent.client_id, AuditEvent.detail).order_by(AuditEvent.id)
    )
    return [(event, client_id, detail) for event, client_id, detail in rows]


def relying_party(created: dict[str, Any], secret: str | None = None) -> RelyingParty:
    """The registered client as the test helpers drive it, with the secret the CLI printed."""
    client = get_client(created["client_id"])
    return RelyingParty(client, secret or created.get("client_secret"), *client.redirect_uris[:1])


def client_credentials(client: FlaskClient, rp: RelyingParty) -> Any:
    return token_request(client, rp, {"grant_type": "client_credentials"})


@pytest.fixture
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))


# --- create ----------------------------------------------------------------------------------


def test_create_confidential_prints_the_secret_once(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(
        runner,
        *("--name", "Example App", "--redirect-uri", CALLBACK),
        *("--redirect-uri", LOOPBACK_CALLBACK, "--post-logout-redirect-uri", LOGGED_OUT),
        *("--grant-type", "authorization_code", "--grant-type", "refresh_token"),
        *("--grant-type", "client_credentials", "--scope", "openid profile api:read"),
        "--skip-consent",
        "--require-mfa",
        "--require-dpop",
        "--require-par",
    )

    stored = get_client(created["client_id"])
    secret = created.pop("client_secret")
    assert len(secret) >= 43  # 256 bits, base64url
    assert stored.secret_hash is not None and secret not in stored.secret_hash
    assert created == {
        "client_id": stored.client_id,
        "name": "Example App",
        "public": False,
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [CALLBACK, LOOPBACK_CALLBACK],
        "post_logout_redirect_uris": [LOGGED_OUT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid profile api:read",
        "skip_consent": True,
        "require_mfa": True,
        "require_dpop": True,
        "require_par": True,
        "id_token_signed_response_alg": "RS256",
        "access_token_signed_response_alg": "RS256",
        "access_token_ttl": None,
        "id_token_ttl": None,
        "refresh_token_ttl": None,
        "introspect_apis": [],
        "exchange_audiences": [],
        "backchannel_logout_uri": None,
        "backchannel_logout_session_required": False,
        "created_at": stored.created_at.isoformat(),
    }
    assert audit_events() == [("client:create", stored.client_id, {"via": "cli"})]


def test_show_never_prints_the_secret_or_its_hash(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(runner, "--name", "Example App", "--redirect-uri", CALLBACK)
    secret_hash = get_client(created["client_id"]).secret_hash
    assert secret_hash is not None

    as_json = invoke_json(runner, "client", "show", created["client_id"])
    text = invoke(runner, "client", "show", created["client_id"])

    assert text.exit_code == 0, text.output
    assert as_json == {name: value for name, value in created.items() if name != "client_secret"}
    assert "client_secret:" not in text.output
    for output in (json.dumps(as_json), text.output):
        assert created["client_secret"] not in output
        assert secret_hash not in output


def test_create_text_shows_one_field_per_line(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(
        runner,
        *("client", "create", "--name", "Example App", "--redirect-uri", CALLBACK),
        *("--redirect-uri", LOOPBACK_CALLBACK, "--access-token-ttl", "300"),
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"redirect_uris: {CALLBACK} {LOOPBACK_CALLBACK}" in lines
    assert "grant_types: authorization_code refresh_token" in lines
    assert "access_token_ttl: 300" in lines
    assert "id_token_ttl: server setting" in lines
    [secret_line] = [line for line in lines if line.startswith("client_secret: ")]
    assert len(secret_line.removeprefix("client_secret: ")) >= 43


def test_show_text_leaves_empty_lists_empty(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(runner, "--name", "Batch", *BATCH)

    result = invoke(runner, "client", "show", created["client_id"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "redirect_uris:" in lines
    assert "post_logout_redirect_uris:" in lines
    assert all(line == line.rstrip() for line in lines)


def test_create_public_has_no_secret(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(
        runner, "--name", "Native App", "--public", "--redirect-uri", LOOPBACK_CALLBACK
    )

    assert "client_secret" not in created
    assert created["public"] is True
    assert created["token_endpoint_auth_method"] == "none"
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert get_client(created["client_id"]).secret_hash is None


def test_create_private_key_jwt_reads_the_jwks_file(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)]}
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks), encoding="utf-8")

    created = create(
        runner,
        *("--name", "Backend", *BATCH, "--token-endpoint-auth-method", "private_key_jwt"),
        *("--jwks-file", str(jwks_file)),
    )

    assert "client_secret" not in created
    assert created["token_endpoint_auth_method"] == "private_key_jwt"
    assert get_client(created["client_id"]).jwks == jwks


def test_create_stores_per_client_lifetimes(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(
        runner,
        *("--name", "Example App", "--redirect-uri", CALLBACK),
        *("--access-token-ttl", "86400", "--id-token-ttl", "1"),
        *("--refresh-token-ttl", str(365 * 86400)),
    )

    shown = invoke_json(runner, "client", "show", created["client_id"])
    stored = get_client(created["client_id"])
    assert (shown["access_token_ttl"], shown["id_token_ttl"], shown["refresh_token_ttl"]) == (
        86400,
        1,
        365 * 86400,
    )
    assert (stored.access_token_ttl, stored.id_token_ttl, stored.refresh_token_ttl) == (
        86400,
        1,
        365 * 86400,
    )


def test_access_token_lifetime_is_used_at_the_token_endpoint(
    runner: FlaskCliRunner, client: FlaskClient, signing_keys: None
) -> None:
    rp = relying_party(create(runner, "--name", "Batch", *BATCH, "--access-token-ttl", "1234"))

    response = client_credentials(client, rp)

    assert response.status_code == 200, response.json
    assert response.json["expires_in"] == 1234
    claims = verify_jwt(client, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["client_id"] == rp.client_id
    assert claims["exp"] - claims["iat"] == 1234


def test_id_and_refresh_token_lifetimes_are_used_in_the_code_flow(
    runner: FlaskCliRunner, client: FlaskClient, signing_keys: None
) -> None:
    rp = relying_party(
        create(
            runner,
            *("--name", "Example App", "--redirect-uri", CALLBACK, "--skip-consent"),
            *("--scope", "openid offline_access", "--id-token-ttl", "120"),
            *("--refresh-token-ttl", "3600"),
        )
    )
    make_user()
    sign_in(client)
    pkce = Pkce()
    code = obtain_code(client, rp, pkce, scope="openid offline_access")

    response = exchange_code(client, rp, code, pkce)

    assert response.status_code == 200, response.json
    id_token = verify_jwt(client, response.json["id_token"], audience=rp.client_id, typ="JWT")
    assert id_token["exp"] - id_token["iat"] == 120
    access = verify_jwt(client, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert access["exp"] - access["iat"] == 600  # the server setting: none given for this client
    refresh = db.session.scalars(select(RefreshToken)).one()
    assert (refresh.expires_at - refresh.created_at).total_seconds() == 3600


# --- refusals --------------------------------------------------------------------------------

NAMED = ("--name", "Example App")
WITH_CALLBACK = (*NAMED, "--redirect-uri", CALLBACK)
TTL_BOUNDS = "must be from 1 to 86400 seconds (1 day)"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        pytest.param(
            (*NAMED, "--redirect-uri", "http://rp.example.com/callback"),
            "redirect URI 'http://rp.example.com/callback': must be https "
            "(http only for http://127.0.0.1 or http://[::1])",
            id="http-not-loopback",
        ),
        pytest.param(
            (*NAMED, "--redirect-uri", CALLBACK + "#done"),
            f"redirect URI '{CALLBACK}#done': must not contain a fragment",
            id="redirect-fragment",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--post-logout-redirect-uri", "http://rp.example.com/bye"),
            "redirect URI 'http://rp.example.com/bye': must be https "
            "(http only for http://127.0.0.1 or http://[::1])",
            id="post-logout-http",
        ),
        # RFC 8252 §8.3, RFC 9700 §2.1: what precedes "@" is user information, not the host.
        pytest.param(
            (*NAMED, "--redirect-uri", "http://127.0.0.1:80@evil.example/cb"),
            "redirect URI 'http://127.0.0.1:80@evil.example/cb': "
            "must not contain user information (user@host)",
            id="loopback-userinfo-disguise",
        ),
        pytest.param(
            (*NAMED, "--redirect-uri", "http://[::1]@evil.example/cb"),
            "redirect URI 'http://[::1]@evil.example/cb': "
            "must not contain user information (user@host)",
            id="ipv6-loopback-userinfo-disguise",
        ),
        pytest.param(
            (*NAMED, "--redirect-uri", "https://rp:secret@rp.example.com/cb"),
            "redirect URI 'https://rp:secret@rp.example.com/cb': "
            "must not contain user information (user@host)",
            id="https-userinfo",
        ),
        pytest.param(
            (*NAMED, "--redirect-uri", "http://127.0.0.1\\@evil.example/cb"),
            "redirect URI 'http://127.0.0.1\\\\@evil.example/cb': not a valid URL",
            id="backslash",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--post-logout-redirect-uri", "http://127.0.0.1:80@evil.example/"),
            "redirect URI 'http://127.0.0.1:80@evil.example/': "
            "must not contain user information (user@host)",
            id="post-logout-userinfo",
        ),
        pytest.param(
            NAMED, "authorization_code: needs at least one redirect URI", id="no-redirect-uri"
        ),
        pytest.param(
            (*NAMED, "--public", *BATCH),
            "client_credentials: only for confidential clients",
            id="public-client-credentials",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--public", "--token-endpoint-auth-method", "client_secret_post"),
            "--public clients authenticate with 'none'",
            id="public-with-secret-method",
        ),
        pytest.param(
            (*NAMED, *BATCH, "--token-endpoint-auth-method", "private_key_jwt"),
            "private_key_jwt: needs the client's public keys (a JWK Set)",
            id="private-key-jwt-without-jwks",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--scope", 'openid "profile"'),
            "scope: space-separated tokens of printable ASCII, no quotes or \\",
            id="scope-quotes",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--scope", "openid pro\\file"),
            "scope: space-separated tokens of printable ASCII, no quotes or \\",
            id="scope-backslash",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--scope", "openid prøfile"),
            "scope: space-separated tokens of printable ASCII, no quotes or \\",
            id="scope-non-ascii",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--access-token-ttl", "0"),
            f"access_token_ttl: {TTL_BOUNDS}, got 0",
            id="access-ttl-zero",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--access-token-ttl", "86401"),
            f"access_token_ttl: {TTL_BOUNDS}, got 86401",
            id="access-ttl-too-long",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--id-token-ttl", "0"),
            f"id_token_ttl: {TTL_BOUNDS}, got 0",
            id="id-ttl-zero",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--id-token-ttl", "86401"),
            f"id_token_ttl: {TTL_BOUNDS}, got 86401",
            id="id-ttl-too-long",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--refresh-token-ttl", "-1"),
            "refresh_token_ttl: must be from 1 to 31536000 seconds (365 days), got -1",
            id="refresh-ttl-negative",
        ),
        pytest.param(
            (*WITH_CALLBACK, "--refresh-token-ttl", "31536001"),
            "refresh_token_ttl: must be from 1 to 31536000 seconds (365 days), got 31536001",
            id="refresh-ttl-too-long",
        ),
        pytest.param(
            ("--name", "", "--redirect-uri", CALLBACK), "name: must not be empty", id="empty-name"
        ),
        pytest.param(
            ("--name", "   ", "--redirect-uri", CALLBACK),
            "name: must not be empty",
            id="blank-name",
        ),
    ],
)
def test_create_refuses_with_a_clear_error_and_stores_nothing(
    app: Flask, runner: FlaskCliRunner, args: tuple[str, ...], error: str
) -> None:
    result = invoke(runner, "client", "create", *args, "--json")

    assert result.exit_code == 1
    assert result.stderr == f"error: {error}\n"
    assert result.stdout == ""
    assert count(Client) == 0
    assert count(AuditEvent) == 0


def test_every_problem_gets_its_own_error_line(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(
        runner,
        *("client", "create", "--name", " ", "--redirect-uri", "http://rp.example.com/cb"),
        *("--access-token-ttl", "0"),
    )

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: name: must not be empty",
        "error: redirect URI 'http://rp.example.com/cb': must be https "
        "(http only for http://127.0.0.1 or http://[::1])",
        f"error: access_token_ttl: {TTL_BOUNDS}, got 0",
    ]
    assert count(Client) == 0


@pytest.mark.parametrize(
    ("contents", "error"),
    [
        pytest.param(None, "--jwks-file: cannot read a JSON JWK Set from", id="missing"),
        pytest.param(b"{not json", "--jwks-file: cannot read a JSON JWK Set from", id="not-json"),
        pytest.param(b"\xff\xfe{}", "--jwks-file: cannot read a JSON JWK Set from", id="not-utf8"),
        pytest.param(
            b"[]", "--jwks-file: expected a JSON object with a 'keys' list", id="json-list"
        ),
        pytest.param(
            b'{"keys": []}',
            "jwks: expected a JWK Set: a JSON object with a non-empty 'keys' list",
            id="no-keys",
        ),
        pytest.param(
            b'{"keys": [{"kty": "RSA", "e": "AQAB"}]}',
            "jwks: a key is not usable (key_parameter: 'n' is required)",
            id="broken-key",
        ),
    ],
)
def test_create_refuses_an_unusable_jwks_file(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, contents: bytes | None, error: str
) -> None:
    jwks_file = tmp_path / "jwks.json"
    if contents is not None:
        jwks_file.write_bytes(contents)

    result = invoke(
        runner,
        *("client", "create", *NAMED, *BATCH, "--token-endpoint-auth-method", "private_key_jwt"),
        *("--jwks-file", str(jwks_file)),
    )

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {error}")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
    assert count(Client) == 0


def test_an_unknown_grant_type_is_a_usage_error(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(runner, "client", "create", *WITH_CALLBACK, "--grant-type", "password")

    assert result.exit_code == 2
    assert "Invalid value for '--grant-type': 'password' is not one of" in result.stderr
    assert count(Client) == 0


def test_a_lifetime_that_is_not_a_number_is_a_usage_error(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = invoke(runner, "client", "create", *WITH_CALLBACK, "--access-token-ttl", "1h")

    assert result.exit_code == 2
    assert "Invalid value for '--access-token-ttl': '1h' is not a valid integer" in result.stderr
    assert count(Client) == 0


# --- list and show ---------------------------------------------------------------------------


def test_list_shows_every_client_oldest_first(app: Flask, runner: FlaskCliRunner) -> None:
    web = create(runner, *WITH_CALLBACK)
    native = create(runner, "--name", "Native App", "--public", "--redirect-uri", LOOPBACK_CALLBACK)

    listed = invoke_json(runner, "client", "list")
    text = invoke(runner, "client", "list")

    assert [each["client_id"] for each in listed] == [web["client_id"], native["client_id"]]
    assert listed[0] == {name: value for name, value in web.items() if name != "client_secret"}
    assert text.stdout.splitlines() == [
        f"{web['client_id']}  confidential  Example App",
        f"{native['client_id']}  public        Native App",
    ]
    assert web["client_secret"] not in text.output + json.dumps(listed)


def test_list_without_clients_is_empty(app: Flask, runner: FlaskCliRunner) -> None:
    assert invoke_json(runner, "client", "list") == []


@pytest.mark.parametrize("command", ["show", "delete", "rotate-secret"])
def test_an_unknown_client_id_is_an_error(app: Flask, runner: FlaskCliRunner, command: str) -> None:
    result = invoke(runner, "client", command, "no-such-client")

    assert result.exit_code == 1
    assert result.stderr == "error: no client with client_id 'no-such-client'\n"
    assert result.stdout == ""
    assert count(AuditEvent) == 0


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_the_client_with_its_consents_codes_and_tokens(
    runner: FlaskCliRunner, client: FlaskClient, signing_keys: None
) -> None:
    created = create(runner, *WITH_CALLBACK, "--scope", "openid offline_access")
    kept = create(runner, "--name", "Other App", "--redirect-uri", CALLBACK)
    rp = relying_party(created)
    make_user()
    sign_in(client)
    pkce = Pkce()
    first_code = obtain_code(client, rp, pkce, scope="openid offline_access")  # asks for consent
    assert exchange_code(client, rp, first_code, pkce).status_code == 200
    obtain_code(client, rp, Pkce(), scope="openid offline_access")  # consent remembered
    assert (count(Consent), count(AuthorizationCode), count(RefreshToken)) == (1, 2, 1)

    result = invoke(runner, "client", "delete", created["client_id"], "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"client_id": created["client_id"], "deleted": True}
    assert (count(Consent), count(AuthorizationCode), count(RefreshToken)) == (0, 0, 0)
    remaining = [each["client_id"] for each in invoke_json(runner, "client", "list")]
    assert remaining == [kept["client_id"]]
    assert audit_events()[-1] == ("client:delete", created["client_id"], {"via": "cli"})


def test_delete_text_says_what_it_did(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(runner, *WITH_CALLBACK)

    result = invoke(runner, "client", "delete", created["client_id"])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"deleted client {created['client_id']}\n"
    assert count(Client) == 0


# --- rotate-secret ---------------------------------------------------------------------------


def test_rotate_secret_replaces_the_old_one_at_once(
    runner: FlaskCliRunner, client: FlaskClient, signing_keys: None
) -> None:
    created = create(runner, "--name", "Batch", *BATCH)
    old = relying_party(created)
    assert client_credentials(client, old).status_code == 200

    rotated = invoke_json(runner, "client", "rotate-secret", created["client_id"])

    assert set(rotated) == {"client_id", "client_secret"}
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    refused = client_credentials(client, old)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    accepted = client_credentials(client, relying_party(created, rotated["client_secret"]))
    assert accepted.status_code == 200, accepted.json
    client_events = [event for event in audit_events() if event[0].startswith("client:")]
    assert client_events[-1] == ("client:rotate-secret", created["client_id"], {"via": "cli"})


def test_rotate_secret_text_prints_only_the_secret(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(runner, "--name", "Batch", *BATCH)

    result = invoke(runner, "client", "rotate-secret", created["client_id"])

    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith("client_secret: ")
    assert line.removeprefix("client_secret: ") != created["client_secret"]


def test_rotate_secret_of_a_public_client_is_an_error(app: Flask, runner: FlaskCliRunner) -> None:
    created = create(runner, "--name", "Native App", "--public", "--redirect-uri", CALLBACK)

    result = invoke(runner, "client", "rotate-secret", created["client_id"])

    assert result.exit_code == 1
    assert result.stderr == "error: client uses 'none', which has no secret\n"
    assert result.stdout == ""
    assert get_client(created["client_id"]).secret_hash is None
    assert [event for event, _, _ in audit_events()] == ["client:create"]

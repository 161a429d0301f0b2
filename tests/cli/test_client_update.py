"""``authserver client update``, and what ``client delete`` leaves of a client's grants.

Validation is the registration's own; what an update changes is seen through the token
endpoint, userinfo and the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent, Consent, RefreshFamily, RefreshToken
from authserver.oauth.clients import (
    ClientRegistration,
    describe_client,
    get_client,
    register_client,
)
from tests.cli.admin_support import audit_rows, refresh, run_code_flow, userinfo
from tests.factories import make_user
from tests.support.account import signed_in_browser
from tests.support.cli import Cli
from tests.support.oauth import RelyingParty, token_request

CALLBACK = "https://rp.example.com/callback"
OTHER_CALLBACK = "https://rp.example.com/other"
TTL_BOUNDS = "must be from 1 to 86400 seconds (1 day)"


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))


def create(**changes: Any) -> dict[str, Any]:
    """Register a client through the service (what `client create` runs); describe it."""
    registration: dict[str, Any] = {"name": "Example App", "redirect_uris": (CALLBACK,)}
    client, secret = register_client(ClientRegistration(**{**registration, **changes}))
    described = describe_client(client)
    if secret is not None:
        described["client_secret"] = secret
    return described


def shown(client_id: str) -> dict[str, Any]:
    db.session.expire_all()
    return describe_client(get_client(client_id))


def test_update_changes_only_what_is_given_and_audits_it(app: Flask, cli: Cli) -> None:
    created = create()

    updated = cli.json(
        "client",
        "update",
        created["client_id"],
        *("--name", "Renamed App", "--redirect-uri", CALLBACK, "--redirect-uri", OTHER_CALLBACK),
        *("--scope", "openid email roles", "--require-mfa", "--access-token-ttl", "300"),
        *("--id-token-alg", "ES256", "--require-dpop"),
    )

    assert updated["changed"] == [
        "access_token_ttl",
        "id_token_signed_response_alg",
        "name",
        "redirect_uris",
        "require_dpop",
        "require_mfa",
        "scope",
    ]
    assert "client_secret" not in updated
    now = shown(created["client_id"])
    assert {name: now[name] for name in updated["changed"]} == {
        "access_token_ttl": 300,
        "id_token_signed_response_alg": "ES256",
        "name": "Renamed App",
        "redirect_uris": [CALLBACK, OTHER_CALLBACK],
        "require_dpop": True,
        "require_mfa": True,
        "scope": "openid email roles",
    }
    unchanged = {"grant_types", "skip_consent", "refresh_token_ttl", "token_endpoint_auth_method"}
    assert {name: now[name] for name in unchanged} == {name: created[name] for name in unchanged}
    assert audit_rows("admin:client") == [
        (
            "admin:client:update",
            None,
            created["client_id"],
            {
                "via": "cli",
                "new_secret": False,
                "changed": {
                    "access_token_ttl": 300,
                    "id_token_signed_response_alg": "ES256",
                    "name": "Renamed App",
                    "redirect_uris": [CALLBACK, OTHER_CALLBACK],
                    "require_dpop": True,
                    "require_mfa": True,
                    "scope": "openid email roles",
                },
            },
        )
    ]


def test_require_dpop_can_be_switched_off_again(app: Flask, cli: Cli) -> None:
    created = create(require_dpop=True)

    updated = cli.json("client", "update", created["client_id"], "--no-require-dpop")

    assert updated["changed"] == ["require_dpop"]
    assert shown(created["client_id"])["require_dpop"] is False


def test_require_par_is_switched_on_and_off_by_update(app: Flask, cli: Cli) -> None:
    created = create()
    assert shown(created["client_id"])["require_par"] is False

    on = cli.json("client", "update", created["client_id"], "--require-par")
    assert on["changed"] == ["require_par"]
    assert shown(created["client_id"])["require_par"] is True
    off = cli.json("client", "update", created["client_id"], "--no-require-par")

    assert off["changed"] == ["require_par"]
    assert shown(created["client_id"])["require_par"] is False
    assert [detail["changed"] for _, _, _, detail in audit_rows("admin:client:update")] == [
        {"require_par": True},
        {"require_par": False},
    ]


def test_a_lifetime_goes_back_to_the_server_setting_with_default(app: Flask, cli: Cli) -> None:
    created = create(refresh_token_ttl=3600)

    text = cli.ok("client", "update", created["client_id"], "--refresh-token-ttl", "default")

    assert "refresh_token_ttl: server setting" in text.splitlines()
    assert "changed: refresh_token_ttl" in text.splitlines()
    assert get_client(created["client_id"]).refresh_token_ttl is None


def test_an_update_that_changes_nothing_records_nothing(app: Flask, cli: Cli) -> None:
    created = create()

    updated = cli.json("client", "update", created["client_id"], "--name", " Example App ")

    assert updated["changed"] == []
    assert audit_rows("admin:") == []


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        pytest.param(
            ("--redirect-uri", "http://rp.example.com/cb", "--access-token-ttl", "0"),
            [
                "error: redirect URI 'http://rp.example.com/cb': must be https "
                "(http only for http://127.0.0.1 or http://[::1])",
                f"error: access_token_ttl: {TTL_BOUNDS}, got 0",
            ],
            id="same-rules-as-create",
        ),
        pytest.param(
            (
                *("--redirect-uri", "http://127.0.0.1:80@evil.example/cb"),
                *("--post-logout-redirect-uri", "https://user@rp.example.com/bye"),
            ),
            [
                "error: redirect URI 'http://127.0.0.1:80@evil.example/cb': "
                "must not contain user information (user@host)",
                "error: redirect URI 'https://user@rp.example.com/bye': "
                "must not contain user information (user@host)",
            ],
            id="userinfo",
        ),
        pytest.param(
            ("--token-endpoint-auth-method", "none", "--grant-type", "client_credentials"),
            ["error: client_credentials: only for confidential clients"],
            id="public-client-credentials",
        ),
        pytest.param(
            (), ["error: nothing to change: give at least one option (see --help)"], id="no-options"
        ),
    ],
)
def test_a_refused_update_changes_nothing(
    app: Flask, cli: Cli, args: tuple[str, ...], errors: list[str]
) -> None:
    created = create()

    stderr = cli.fails("client", "update", created["client_id"], *args)

    assert stderr.splitlines() == errors
    assert shown(created["client_id"]) == {
        name: value for name, value in created.items() if name != "client_secret"
    }
    assert audit_rows("admin:") == []


def test_an_unknown_client_is_a_clean_error(app: Flask, cli: Cli) -> None:
    assert cli.fails("client", "update", "no-such-client", "--name", "x") == (
        "error: no client with client_id 'no-such-client'\n"
    )


def test_a_bad_lifetime_is_a_usage_error(app: Flask, cli: Cli) -> None:
    created = create()

    result = cli("client", "update", created["client_id"], "--id-token-ttl", "soon")

    assert result.returncode == 2
    assert "'soon' is neither a number of seconds nor 'default'" in result.stderr


def test_moving_to_a_secret_method_prints_a_new_secret_that_works(app: Flask, cli: Cli) -> None:
    created = create(token_endpoint_auth_method="none")
    assert "client_secret" not in created

    updated = cli.json(
        "client",
        "update",
        created["client_id"],
        *("--token-endpoint-auth-method", "client_secret_basic"),
        *("--grant-type", "client_credentials", "--scope", "api:read"),
    )

    assert updated["public"] is False
    service = RelyingParty(get_client(created["client_id"]), updated["client_secret"])
    response = token_request(app.test_client(), service, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    assert audit_rows("admin:client")[-1][3]["new_secret"] is True


def test_a_removed_scope_is_dropped_at_the_next_refresh(app: Flask, cli: Cli) -> None:
    make_user()
    created = create(scope="openid profile email offline_access")
    rp = RelyingParty(get_client(created["client_id"]), created["client_secret"], CALLBACK)
    web = signed_in_browser(app)
    grant = run_code_flow(web, rp, scope="openid profile email offline_access")

    cli.ok("client", "update", created["client_id"], "--scope", "openid profile offline_access")
    refreshed = refresh(web, grant)

    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json["scope"] == "openid profile offline_access"
    assert "email" not in userinfo(web, refreshed.json["access_token"]).json


def test_delete_ends_the_clients_grants_and_tokens(app: Flask, cli: Cli) -> None:
    make_user()
    created = create(scope="openid offline_access")
    rp = RelyingParty(get_client(created["client_id"]), created["client_secret"], CALLBACK)
    web = signed_in_browser(app)
    grant = run_code_flow(web, rp, scope="openid offline_access")

    assert cli.json("client", "delete", created["client_id"]) == {
        "client_id": created["client_id"],
        "deleted": True,
    }

    # The access token is refused at once (its client is gone); the refresh token, its family
    # and the consent are deleted with the client.
    assert userinfo(web, grant.access_token).status_code == 401
    assert refresh(web, grant).status_code == 401  # the client itself no longer authenticates
    for model in (Consent, RefreshToken, RefreshFamily):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert (
        db.session.scalar(
            select(AuditEvent.event)
            .where(AuditEvent.client_id == created["client_id"])
            .order_by(AuditEvent.id.desc())
        )
        == "client:delete"
    )

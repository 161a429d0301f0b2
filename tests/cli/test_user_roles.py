"""``authserver user role add|remove|list``, and roles reaching relying parties end to end.

A role added by the command is in the ID token (verified with PyJWT against the published
JWKS) and userinfo of a code flow that asked for the ``roles`` scope, and nowhere without it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.accounts.roles import add_role, list_roles
from authserver.keys.manager import ensure_active_keys
from authserver.models.types import utcnow
from authserver.security.errors import InvalidRole
from tests.cli.admin_support import audit_rows, refresh, run_code_flow, userinfo
from tests.factories import DEFAULT_EMAIL, make_user
from tests.support.account import signed_in_browser
from tests.support.cli import Cli
from tests.support.oauth import ISSUER, authorize, make_relying_party, published_keys, verify_jwt

WITH_ROLES = "openid profile offline_access roles"


@pytest.fixture(autouse=True)
def signing_keys(app: Flask) -> None:
    ensure_active_keys(now=datetime.now(UTC))


def test_add_list_and_remove_roles_are_audited(app: Flask, cli: Cli) -> None:
    user = make_user()

    assert cli.json("user", "role", "add", DEFAULT_EMAIL, "billing:read") == {
        "email": DEFAULT_EMAIL,
        "roles": ["billing:read"],
    }
    add_role(user, "admin", now=utcnow(), via="test")
    assert cli.ok("user", "role", "remove", DEFAULT_EMAIL, "billing:read").splitlines() == [
        f"removed billing:read from {DEFAULT_EMAIL}",
        f"roles of {DEFAULT_EMAIL}: admin",
    ]
    assert list_roles(user.id) == ["admin"]
    assert audit_rows("admin:") == [
        ("admin:user:role-add", user.subject, None, {"role": "billing:read", "via": "cli"}),
        ("admin:user:role-add", user.subject, None, {"role": "admin", "via": "test"}),
        ("admin:user:role-remove", user.subject, None, {"role": "billing:read", "via": "cli"}),
    ]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("add", DEFAULT_EMAIL, "-has space"), "a role name is letters, digits and"),
        (("add", DEFAULT_EMAIL, "admin"), f"{DEFAULT_EMAIL} already has the role 'admin'"),
        (("remove", DEFAULT_EMAIL, "auditor"), f"{DEFAULT_EMAIL} does not have the role 'auditor'"),
    ],
)
def test_role_changes_that_cannot_be_made_say_why(
    app: Flask, cli: Cli, args: tuple[str, ...], problem: str
) -> None:
    user = make_user()
    add_role(user, "admin", now=utcnow(), via="test")

    # "--" so that a role starting with a dash is an argument, not an unknown option.
    stderr = cli.fails("user", "role", args[0], "--", *args[1:])

    assert problem in stderr
    assert list_roles(user.id) == ["admin"]
    assert len(audit_rows("admin:")) == 1


@pytest.mark.parametrize("role", ["has space", "-dash-first", "x" * 65, "", "naïve"])
def test_role_names_are_checked(app: Flask, role: str) -> None:
    user = make_user()

    with pytest.raises(InvalidRole):
        add_role(user, role, now=utcnow(), via="test")

    assert list_roles(user.id) == []


def test_roles_reach_the_id_token_access_token_and_userinfo(app: Flask, cli: Cli) -> None:
    user = make_user()
    add_role(user, "billing:read", now=utcnow(), via="test")
    cli.ok("user", "role", "add", DEFAULT_EMAIL, "admin")
    rp = make_relying_party(scope=WITH_ROLES)
    web = signed_in_browser(app)

    grant = run_code_flow(web, rp, scope=WITH_ROLES)

    id_claims = verify_jwt(web, grant.id_token, audience=rp.client_id, typ="JWT")
    access_claims = verify_jwt(web, grant.access_token, audience=ISSUER, typ="at+jwt")
    info = userinfo(web, grant.access_token)
    assert id_claims["roles"] == ["admin", "billing:read"]
    assert access_claims["roles"] == ["admin", "billing:read"]
    assert info.status_code == 200
    assert info.json["roles"] == ["admin", "billing:read"]

    # Removed: the next tokens and userinfo say so (the old access token's copy is frozen).
    cli.ok("user", "role", "remove", DEFAULT_EMAIL, "admin")
    refreshed = refresh(web, grant).json
    assert userinfo(web, grant.access_token).json["roles"] == ["billing:read"]
    assert verify_jwt(web, refreshed["id_token"], audience=rp.client_id, typ="JWT")["roles"] == [
        "billing:read"
    ]


def test_without_the_roles_scope_no_roles_are_released(app: Flask) -> None:
    user = make_user()
    add_role(user, "admin", now=utcnow(), via="test")
    rp = make_relying_party(scope=WITH_ROLES)
    web = signed_in_browser(app)

    grant = run_code_flow(web, rp, scope="openid profile offline_access")

    assert "roles" not in _claims_any_audience(web, grant.id_token)
    assert "roles" not in _claims_any_audience(web, grant.access_token)
    assert "roles" not in userinfo(web, grant.access_token).json


def test_a_user_without_roles_gets_an_empty_list_when_asked(app: Flask) -> None:
    make_user()
    rp = make_relying_party(scope=WITH_ROLES)
    web = signed_in_browser(app)

    grant = run_code_flow(web, rp, scope=WITH_ROLES)

    assert verify_jwt(web, grant.id_token, audience=rp.client_id, typ="JWT")["roles"] == []
    assert userinfo(web, grant.access_token).json["roles"] == []


def test_the_consent_page_and_discovery_name_the_roles_scope(
    app: Flask, client: FlaskClient
) -> None:
    make_user()
    rp = make_relying_party(scope=WITH_ROLES)
    web = signed_in_browser(app)

    page = authorize(
        web, rp, None, scope="openid roles", code_challenge="x" * 43, code_challenge_method="S256"
    )
    metadata = client.get("/.well-known/openid-configuration").json

    assert page.status_code == 200
    assert "Your roles" in page.text
    assert "roles" in metadata["scopes_supported"]
    assert "roles" in metadata["claims_supported"]


def _claims_any_audience(web: FlaskClient, token: str) -> dict[str, object]:
    # Signature checked; the audience is not the point here, only which claims are present.
    header = jwt.get_unverified_header(token)
    key = published_keys(web)[header["kid"]]
    claims: dict[str, object] = jwt.decode(
        token, key=key, algorithms=[header["alg"]], options={"verify_aud": False}
    )
    return claims

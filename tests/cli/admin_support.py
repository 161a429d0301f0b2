"""What the admin-command tests share: audit rows as tuples, a signed-in user with tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    obtain_code,
    token_request,
)

AuditRow = tuple[str, str | None, str | None, dict[str, Any]]


def audit_rows(prefix: str = "") -> list[AuditRow]:
    """(event, user_subject, client_id, detail) of every audit row whose tag starts so."""
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event.startswith(prefix)).order_by(AuditEvent.id)
    )
    return [(e.event, e.user_subject, e.client_id, e.detail) for e in events]


@dataclass
class Grant:
    """Tokens one code flow gave a relying party."""

    rp: RelyingParty
    access_token: str
    refresh_token: str
    id_token: str


def run_code_flow(browser: FlaskClient, rp: RelyingParty, *, scope: str) -> Grant:
    """The browser is signed in; consent if asked; exchange the code."""
    pkce = Pkce()
    code = obtain_code(browser, rp, pkce, scope=scope)
    response = exchange_code(browser, rp, code, pkce)
    assert response.status_code == 200, response.text
    tokens = response.json
    return Grant(rp, tokens["access_token"], tokens["refresh_token"], tokens["id_token"])


def userinfo(browser: FlaskClient, access_token: str) -> Any:  # Any: the response
    return browser.get("/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def refresh(browser: FlaskClient, grant: Grant) -> Any:  # Any: the response
    return token_request(
        browser, grant.rp, {"grant_type": "refresh_token", "refresh_token": grant.refresh_token}
    )


def signed_in_grant(browser: FlaskClient) -> Grant:
    """A relying party and a code flow for the browser's user (scope includes offline_access)."""
    rp = make_relying_party()
    return run_code_flow(browser, rp, scope="openid profile email offline_access")

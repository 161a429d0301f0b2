"""``authserver secrets reencrypt``: rotating the at-rest encryption key ring.

The procedure an operator follows (docs/deploy.md): put a new key first in the ring, run
the command, then remove the old key. Afterwards, with only the new key, sign-in with TOTP must
work (TOTP secrets decrypt) and tokens must sign (signing keys decrypt).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import jwt
import pytest
from flask import Flask
from sqlalchemy import func, select

from authserver.dev_secrets import new_encryption_key
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import SigningKey
from tests.cli.admin_support import audit_rows
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import is_signed_in
from tests.support.cli import Cli
from tests.support.mfa import Authenticator, Clock, answer_challenge, enrol, frozen_clock
from tests.support.oauth import make_relying_party, token_request
from tests.support.web import sign_in, sign_out


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        yield frozen


@pytest.fixture
def enrolled(app: Flask, clock: Clock) -> Authenticator:
    """Signing keys, a client, and Alice with an authenticator, all sealed under the old key."""
    ensure_active_keys(now=datetime.now(UTC))
    make_user()
    web = app.test_client()
    sign_in(web, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    authenticator = enrol(web).authenticator
    sign_out(web)
    clock.next_step()
    return authenticator


def report(reencrypted: int, current: int) -> dict[str, int]:
    return {"reencrypted": reencrypted, "already_current": current, "changed_meanwhile": 0}


def test_rotating_the_ring_keeps_totp_and_signing_working(
    app: Flask, cli: Cli, make_app: AppFactory, enrolled: Authenticator, clock: Clock
) -> None:
    old_key = app.extensions["authserver.settings"].encryption_keys[0]
    new_key = new_encryption_key()
    signing_keys = db.session.scalar(select(func.count()).select_from(SigningKey))
    assert signing_keys == 3  # one per algorithm

    first = cli.json("secrets", "reencrypt", encryption_keys=f"{new_key},{old_key}")
    second = cli.json("secrets", "reencrypt", encryption_keys=f"{new_key},{old_key}")

    assert first == {
        "signing_keys.private_key_encrypted": report(signing_keys, 0),
        "totp_credentials.secret_encrypted": report(1, 0),
    }
    assert second == {  # idempotent
        "signing_keys.private_key_encrypted": report(0, signing_keys),
        "totp_credentials.secret_encrypted": report(0, 1),
    }
    assert [detail for *_, detail in audit_rows("admin:secrets")] == [
        {"columns": first},
        {"columns": second},
    ]

    # The old key is gone from the ring: everything still opens.
    rotated = make_app(encryption_keys=(new_key,))
    web = rotated.test_client()
    started = sign_in(web, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    done = answer_challenge(web, enrolled.code(), started.headers["Location"])
    assert done.status_code == 303, done.text
    assert is_signed_in(web)
    with rotated.app_context():
        service = make_relying_party(
            name="After", grant_types=("client_credentials",), redirect_uris=(), scope="api:read"
        )
    issued = token_request(web, service, {"grant_type": "client_credentials"})
    assert issued.status_code == 200, issued.text
    token = issued.json["access_token"]
    keyset = jwt.PyJWKSet.from_dict(web.get("/.well-known/jwks.json").json)
    claims = jwt.decode(
        token,
        keyset[jwt.get_unverified_header(token)["kid"]],
        algorithms=["RS256"],
        audience="http://localhost",
    )
    assert claims["client_id"] == service.client_id


def test_without_the_old_key_nothing_opens_and_the_command_says_so(
    app: Flask, cli: Cli, enrolled: Authenticator
) -> None:
    stderr = cli.fails("secrets", "reencrypt", encryption_keys=new_encryption_key())

    assert stderr.startswith("error: signing_keys.private_key_encrypted row ")
    assert "encrypted under a key not in AUTHSERVER_ENCRYPTION_KEYS" in stderr
    assert stderr.count("\n") == 1
    assert audit_rows("admin:secrets") == []

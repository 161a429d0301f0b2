"""``authserver keys retire``: early retirement, never leaving an algorithm without a key.

Tokens are checked the way a downstream service would: PyJWT against the published JWKS.
"""

from __future__ import annotations

from typing import Any

import jwt
from flask import Flask, current_app
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.keys.jwks import jwks_cache
from authserver.keys.manager import ensure_active_keys, list_keys, rotate_keys, signing_key_cache
from authserver.models.keys import new_kid
from authserver.models.types import utcnow
from tests.cli.admin_support import audit_rows
from tests.support.cli import Cli
from tests.support.jwks import published_kids
from tests.support.oauth import RelyingParty, make_relying_party, token_request


def keys_by_state(alg: str) -> dict[str, list[str]]:
    db.session.expire_all()
    states: dict[str, list[str]] = {}
    for key in list_keys():
        if key.alg.value == alg:
            states.setdefault(key.state.value, []).append(key.kid)
    return states


def active_kid(alg: str) -> str:
    [key] = [key for key in ensure_active_keys(now=utcnow()) if key.alg.value == alg]
    return str(key.kid)


def publish_next(alg: str) -> str:
    settings = current_app.extensions["authserver.settings"]
    report = rotate_keys(now=utcnow(), settings=settings, algs=[alg])
    return report.created[0].kid


def service() -> RelyingParty:
    return make_relying_party(
        name="Batch",
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="api:read",
        access_token_signed_response_alg="ES256",
    )


def caught_up() -> None:
    """This test process learns of the command's key change now, not after its caches' few
    seconds (keys/handles.py and keys/jwks.py explain why a short lag is safe)."""
    signing_key_cache().forget_active_kids()
    jwks_cache().forget()


def signed_kid(client: FlaskClient, rp: RelyingParty) -> str:
    response = token_request(client, rp, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    token = response.json["access_token"]
    header: dict[str, Any] = jwt.get_unverified_header(token)
    keyset = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json)
    jwt.decode(token, keyset[header["kid"]], algorithms=["ES256"], audience="http://localhost")
    return str(header["kid"])


def test_an_active_key_without_a_successor_is_not_retired(
    app: Flask, cli: Cli, client: FlaskClient
) -> None:
    active = active_kid("ES256")

    stderr = cli.fails("keys", "retire", active)

    assert stderr == (
        f"error: key {active} is the only active ES256 key and no next ES256 key is waiting; "
        "run `authserver keys rotate --alg ES256 --immediately` to replace it now, or "
        "`authserver keys rotate --alg ES256` and retire it once the new key is published\n"
    )
    assert keys_by_state("ES256") == {"active": [active]}
    assert audit_rows("key:retire") == []


def test_retiring_the_active_key_hands_over_to_the_next_one(
    app: Flask, cli: Cli, client: FlaskClient
) -> None:
    old = active_kid("ES256")
    successor = publish_next("ES256")
    rp = service()
    assert signed_kid(client, rp) == old

    report = cli.json("keys", "retire", old)
    caught_up()

    assert [ref["kid"] for ref in report["retired"]] == [old]
    assert [ref["kid"] for ref in report["activated"]] == [successor]
    assert report["successor_published_early"] is True  # published seconds ago
    assert keys_by_state("ES256") == {"active": [successor], "retired": [old]}
    assert signed_kid(client, rp) == successor
    assert old in published_kids(client)  # tokens it signed still verify
    assert audit_rows("key:retire") == [
        (
            "key:retire",
            None,
            None,
            {
                "kid": old,
                "alg": "ES256",
                "was": "active",
                "removed": False,
                "activated": [successor],
            },
        )
    ]


def test_remove_takes_a_compromised_key_out_of_the_jwks(
    app: Flask, cli: Cli, client: FlaskClient
) -> None:
    old = active_kid("ES256")
    successor = publish_next("ES256")

    report = cli.json("keys", "retire", old, "--remove")
    caught_up()

    assert [ref["kid"] for ref in report["removed"]] == [old]
    assert keys_by_state("ES256") == {"active": [successor]}
    assert old not in published_kids(client)
    assert signed_kid(client, service()) == successor


def test_a_next_key_is_retired_and_a_retired_one_only_removed(
    app: Flask, cli: Cli, client: FlaskClient
) -> None:
    active = active_kid("ES256")
    waiting = publish_next("ES256")

    assert cli.ok("keys", "retire", waiting) == f"ES256: retired key {waiting} (still published)\n"
    assert keys_by_state("ES256") == {"active": [active], "retired": [waiting]}

    again = cli.fails("keys", "retire", waiting)
    assert (
        again == f"error: key {waiting} is retired already; --remove takes it out of the JWKS now\n"
    )
    cli.ok("keys", "retire", waiting, "--remove")
    assert keys_by_state("ES256") == {"active": [active]}
    assert [row[3]["was"] for row in audit_rows("key:retire")] == ["next", "retired"]


def test_an_unknown_kid_is_a_clean_error(app: Flask, cli: Cli) -> None:
    assert cli.fails("keys", "retire", "no-such-kid") == (
        "error: no signing key with kid 'no-such-kid' (see `authserver keys list`)\n"
    )


def test_rotations_are_audited(app: Flask, cli: Cli) -> None:
    active_kid("EdDSA")

    created = cli.json("keys", "rotate", "--alg", "EdDSA")["created"]
    # The next key exists already: nothing changes, nothing is recorded.
    settings = current_app.extensions["authserver.settings"]
    assert rotate_keys(now=utcnow(), settings=settings, algs=["EdDSA"]).changed is False

    rows = audit_rows("key:rotate")
    assert len(rows) == 1
    event, subject, client_id, detail = rows[0]
    assert (event, subject, client_id) == ("key:rotate", None, None)
    assert detail == {"via": "cli", "immediately": False, "created": created}


def test_new_kids_never_look_like_options() -> None:
    assert not any(new_kid().startswith("-") for _ in range(2000))


def test_an_old_kid_starting_with_a_dash_is_given_after_double_dash(app: Flask, cli: Cli) -> None:
    assert cli.fails("keys", "retire", "--", "-abc") == (
        "error: no signing key with kid '-abc' (see `authserver keys list`)\n"
    )

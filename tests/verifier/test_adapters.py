"""The Flask decorator and the ASGI middleware, each in front of a tiny app of its kind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from flask import Flask, g

from authserver_verifier import Verifier, require_scopes
from authserver_verifier.asgi import TokenMiddleware
from authserver_verifier.flask import FlaskVerifier, current_token, require_token
from tests.support.token_issuer import (
    API,
    INTROSPECTION_CLIENT,
    DPoPClient,
    LoopbackIssuer,
    loopback_issuer,
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LoopbackIssuer]:
    with loopback_issuer("EdDSA") as issuer:
        yield issuer


@pytest.fixture
def verifier(issuer: LoopbackIssuer) -> Verifier:
    client_id, secret = INTROSPECTION_CLIENT
    return Verifier(
        issuer.url,
        audience=API,
        introspection_client_id=client_id,
        introspection_client_secret=secret,
        realm="orders",
    )


# --- Flask -------------------------------------------------------------------------------------


@pytest.fixture
def flask_app(verifier: Verifier) -> Flask:
    app = Flask(__name__)
    FlaskVerifier(verifier, app)

    @app.get("/orders")
    @require_token(scopes=["orders.read"])
    def orders() -> dict[str, Any]:
        return {"subject": g.access_token.subject, "scheme": current_token().scheme}

    @app.post("/orders")
    @require_token(scopes=["orders.write"], introspect=True)
    def create_order() -> dict[str, Any]:
        return {"client": g.access_token.client_id}

    @app.get("/orders/<int:number>")
    @require_token()
    def one_order(number: int) -> dict[str, Any]:
        require_scopes(g.access_token, "orders.read", f"orders.{number}")  # checked in the view
        return {"number": number}

    @app.get("/admin")
    @require_token(scopes=["admin"])
    def admin() -> str:
        return "never"

    return app


def test_flask_a_good_token_reaches_the_view(flask_app: Flask, issuer: LoopbackIssuer) -> None:
    answer = flask_app.test_client().get(
        "/orders", headers={"Authorization": f"Bearer {issuer.mint()}"}
    )
    assert (answer.status_code, answer.json) == (200, {"subject": "user-123", "scheme": "Bearer"})


def test_flask_no_token_gets_both_challenges(flask_app: Flask) -> None:
    answer = flask_app.test_client().get("/orders")
    assert answer.status_code == 401
    assert answer.headers.getlist("WWW-Authenticate") == [
        'Bearer realm="orders"',
        'DPoP realm="orders", algs="ES256 EdDSA RS256"',
    ]
    assert answer.headers["Cache-Control"] == "no-store"


def test_flask_an_expired_token_is_refused(flask_app: Flask, issuer: LoopbackIssuer) -> None:
    token = issuer.mint(iat=1_000_000, exp=1_000_300)
    answer = flask_app.test_client().get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.headers.getlist("WWW-Authenticate") == [
        'Bearer realm="orders", error="invalid_token", '
        'error_description="The access token is not valid."'
    ]
    assert answer.json == {
        "error": "invalid_token",
        "error_description": "The access token is not valid.",
    }


def test_flask_a_missing_scope_is_403(flask_app: Flask, issuer: LoopbackIssuer) -> None:
    answer = flask_app.test_client().get(
        "/admin", headers={"Authorization": f"Bearer {issuer.mint()}"}
    )
    assert answer.status_code == 403
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="orders", error="insufficient_scope", error_description="The access token'
        ' does not grant the scope this request needs.", scope="admin"'
    )


def test_flask_a_scope_checked_in_the_view_is_403_too(
    flask_app: Flask, issuer: LoopbackIssuer
) -> None:
    client = flask_app.test_client()
    allowed = client.get(
        "/orders/7",
        headers={"Authorization": f"Bearer {issuer.mint(scope='orders.read orders.7')}"},
    )
    refused = client.get("/orders/8", headers={"Authorization": f"Bearer {issuer.mint()}"})

    assert (allowed.status_code, allowed.json) == (200, {"number": 7})
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="orders", error="insuff')
    assert refused.headers["WWW-Authenticate"].endswith('scope="orders.read orders.8"')


def test_flask_introspection_sees_a_revoked_token(flask_app: Flask, issuer: LoopbackIssuer) -> None:
    client = flask_app.test_client()
    token = issuer.mint()
    token_jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    issuer.active_jtis.add(token_jti)
    sent_before = len(issuer.introspection_auth)

    accepted = client.post("/orders", headers={"Authorization": f"Bearer {token}"})
    issuer.active_jtis.discard(token_jti)  # revoked at the issuer
    refused = client.post("/orders", headers={"Authorization": f"Bearer {token}"})
    unintrospected = client.get("/orders", headers={"Authorization": f"Bearer {token}"})

    assert (accepted.status_code, accepted.json) == (200, {"client": "client-abc"})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # The GET route does not introspect: the token stays good there until it expires.
    assert unintrospected.status_code == 200
    assert len(issuer.introspection_auth) == sent_before + 2


def test_flask_dpop_uses_the_request_url(flask_app: Flask, issuer: LoopbackIssuer) -> None:
    client = DPoPClient("EdDSA")
    token = issuer.mint(cnf={"jkt": client.jkt})
    url = "http://localhost/orders"
    headers = {"Authorization": f"DPoP {token}", "DPoP": client.proof("GET", url, token)}

    answer = flask_app.test_client().get("/orders?page=2", headers=headers)
    assert (answer.status_code, answer.json["scheme"]) == (200, "DPoP")

    replay = flask_app.test_client().get("/orders", headers=headers)
    assert replay.status_code == 401
    assert replay.headers["WWW-Authenticate"].startswith('DPoP realm="orders", error="invalid_dpop')


# --- ASGI --------------------------------------------------------------------------------------


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The protected app: says which token (if any) the middleware gave it."""
    token = scope.get("state", {}).get("access_token")
    body = json.dumps({"path": scope["path"], "subject": token and token.subject}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call_asgi(
    app: Any, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], dict[str, Any]]:
    """One HTTP request through an ASGI 3 app, as a server would make it."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"api.example.test")]
        + [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # In a thread of its own, as a server's event loop would be: the main thread may already run
    # a loop (Playwright's, while the browser tests' Chromium is open), where asyncio.run fails.
    with ThreadPoolExecutor(max_workers=1) as server_thread:
        server_thread.submit(lambda: asyncio.run(app(scope, receive, send))).result()
    start, body = sent
    headers_out = [(name.decode(), value.decode()) for name, value in start["headers"]]
    return start["status"], headers_out, json.loads(body["body"])


@pytest.fixture
def asgi_app(verifier: Verifier) -> TokenMiddleware:
    return TokenMiddleware(echo_app, verifier, prefixes=["/api/"], scopes=["orders.read"])


def test_asgi_a_good_token_reaches_the_app(
    asgi_app: TokenMiddleware, issuer: LoopbackIssuer
) -> None:
    status, _, body = call_asgi(
        asgi_app, "/api/orders", headers={"Authorization": f"Bearer {issuer.mint()}"}
    )
    assert (status, body) == (200, {"path": "/api/orders", "subject": "user-123"})


def test_asgi_paths_outside_the_prefixes_pass_untouched(asgi_app: TokenMiddleware) -> None:
    for path in ("/health", "/apiary", "/"):
        status, _, body = call_asgi(asgi_app, path)
        assert (status, body["subject"]) == (200, None)


def test_asgi_refusals_are_answered_by_the_middleware(
    asgi_app: TokenMiddleware, issuer: LoopbackIssuer
) -> None:
    missing = call_asgi(asgi_app, "/api")
    wrong_aud = call_asgi(
        asgi_app,
        "/api/orders",
        headers={"Authorization": f"Bearer {issuer.mint(aud='https://other.test')}"},
    )
    no_scope = call_asgi(
        asgi_app,
        "/api/orders",
        headers={"Authorization": f"Bearer {issuer.mint(scope='orders.write')}"},
    )

    assert missing[0] == 401
    assert [v for n, v in missing[1] if n == "www-authenticate"] == [
        'Bearer realm="orders"',
        'DPoP realm="orders", algs="ES256 EdDSA RS256"',
    ]
    assert missing[2] == {"error_description": "An access token is required."}
    assert (wrong_aud[0], wrong_aud[2]["error"]) == (401, "invalid_token")
    assert (no_scope[0], no_scope[2]["error"]) == (403, "insufficient_scope")
    assert ("cache-control", "no-store") in no_scope[1]


def test_asgi_dpop_proof_names_the_public_url(verifier: Verifier, issuer: LoopbackIssuer) -> None:
    app = TokenMiddleware(echo_app, verifier, prefixes=["/api"], scopes=["orders.read"])
    client = DPoPClient("ES256")
    token = issuer.mint(cnf={"jkt": client.jkt})
    proof = client.proof("POST", "https://api.example.test/api/orders", token)

    status, _, body = call_asgi(
        app,
        "/api/orders?x=1",
        method="POST",
        headers={"Authorization": f"DPoP {token}", "DPoP": proof},
    )
    wrong_method = call_asgi(
        app,
        "/api/orders",
        method="GET",
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": client.proof("POST", "https://api.example.test/api/orders", token),
        },
    )

    assert (status, body["subject"]) == (200, "user-123")
    assert (wrong_method[0], wrong_method[2]["error"]) == (401, "invalid_dpop_proof")

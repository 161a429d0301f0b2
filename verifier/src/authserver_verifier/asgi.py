"""ASGI 3 middleware: checks the token of requests under some path prefixes.

    app = TokenMiddleware(app, verifier, prefixes=["/api/"], scopes=["orders.read"])

Plain ASGI, no framework imported, so it wraps Starlette, FastAPI or any other ASGI app. A
verified token is put in ``scope["state"]["access_token"]`` (``request.state.access_token`` in
Starlette); a refused request is answered here (401/403/400/503 with its challenge) and never
reaches the app. Requests outside the prefixes, and lifespan events, pass through untouched.

Verification runs in a worker thread (asyncio.to_thread): it is usually tens of microseconds,
but a JWKS refetch or an introspection call waits on the network and must not stall the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote

from authserver_verifier.errors import VerifierError
from authserver_verifier.tokens import VerifiedToken
from authserver_verifier.verifier import Verifier

# Any: ASGI messages and scopes are dicts of many value types (the ASGI spec's own typing).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# RFC 6455 §7.4.1: 1008 is "policy violation", the close code for a refused handshake.
POLICY_VIOLATION = 1008


class TokenMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        prefixes: Iterable[str] = ("/",),
        scopes: Iterable[str] = (),
        introspect: bool = False,
        state_key: str = "access_token",
        public_base_url: str | None = None,
    ) -> None:
        """``public_base_url`` (e.g. ``https://api.example.com``): the scheme and host clients
        call, when a proxy in front changes them; DPoP proofs name that URL (RFC 9449 §4.3)."""
        self.app = app
        self.verifier = verifier
        self.prefixes = tuple(prefix.rstrip("/") for prefix in prefixes)
        self.scopes = tuple(scopes)
        self.introspect = introspect
        self.state_key = state_key
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _header_values(scope)
        try:
            token = await asyncio.to_thread(
                self.verifier.authenticate,
                method=scope.get("method", "GET"),  # a WebSocket handshake is a GET
                url=self._url(scope, headers),
                authorization=headers.get("authorization", []),
                dpop=headers.get("dpop", []),
                scopes=self.scopes,
                introspect=self.introspect,
            )
        except VerifierError as error:
            await self._refuse(scope, send, error)
            return
        await self.app(self._with_token(scope, token), receive, send)

    def _protects(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    def _url(self, scope: Scope, headers: dict[str, list[str]]) -> str:
        raw_path = scope.get("raw_path")
        # The path as the client sent it (the one its proof signed), when the server keeps it.
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        if self.public_base_url is not None:
            return self.public_base_url + path
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", ""), scope.get("scheme"))
        host = (headers.get("host") or [_server_host(scope)])[0]
        return f"{scheme or 'http'}://{host}{path}"

    def _with_token(self, scope: Scope, token: VerifiedToken) -> Scope:
        # A copy: the server may share the state dict it gave (lifespan state) between requests.
        state = {**scope.get("state", {}), self.state_key: token}
        return {**scope, "state": state}

    async def _refuse(self, scope: Scope, send: Send, error: VerifierError) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        answer = self.verifier.refusal(error)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in answer.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


def _header_values(scope: Scope) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return values


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server
    return f"{host}:{port}" if port is not None else str(host)

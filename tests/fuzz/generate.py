"""Seeded generation of malformed requests (tests/fuzz/test_fuzz.py).

Request number ``i`` of a run with seed ``s`` comes from its own ``random.Random(f"{s}:{i}")``,
so any one request can be rebuilt from the two numbers a failure prints, without the others.

The mix: every route and some that do not exist, odd methods and paths, Host headers, headers
of every kind, query strings and bodies (form, JSON, multipart, raw bytes, broken encodings),
repeated and oddly named parameters, huge values, and the live secrets minted before the run
(tokens, codes, a client secret, a password, emailed-link tokens) where a client would send
them, so the log check has something to find if redaction fails.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote

# --- what a run knows before it starts -----------------------------------------------------------


@dataclass(frozen=True)
class LiveSecrets:
    """Secrets minted for real before the run; none of them may ever reach the log."""

    by_name: dict[str, str]  # "refresh token" -> value
    link_tokens: dict[str, str] = field(default_factory=dict)  # "/reset/" -> a live token
    client_id: str = "client"  # sent with the secrets, and logged by design: not a secret

    def values(self) -> list[str]:
        return [value for value in {**self.by_name, **self.link_tokens}.values() if value]


@dataclass(frozen=True)
class FuzzRequest:
    persona: str  # which browser sends it (anonymous, signed in, half-way through MFA)
    method: str
    path: str
    query: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def describe(self, limit: int = 600) -> str:
        text = (
            f"{self.persona}: {self.method} {self.path!r} ?{self.query!r} "
            f"headers={self.headers!r} body={self.body!r}"
        )
        return text if len(text) <= limit else text[:limit] + "..."


PERSONAS = ("anonymous", "anonymous", "signed in", "mfa pending")
METHODS = ["GET"] * 6 + ["POST"] * 6 + ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
ODD_METHODS = ["TRACE", "PROPFIND", "get", "CONNECT", "FOO", "M-SEARCH"]
LINK_PREFIXES = ("/reset/", "/verify-email/", "/unlock/")
ODD_PATHS = [
    "/",
    "//",
    "/%",
    "/%00",
    "/%zz",
    "/..%2f..%2fetc%2fpasswd",
    "/static/../wsgi.py",
    "/static/%2e%2e/%2e%2e/wsgi.py",
    "/login/",
    "/LOGIN",
    "/oauth/",
    "/oauth/authorize/",
    "/oauth/token/",
    "/oauth/../oauth/token",
    "/.well-known/",
    "/.well-known/openid-configuration/extra",
    "/.well-known/jwks.json%00",
    "/favicon.ico",
    "/\u00e9t\u00e9",
    "/\u202e\u0000",
    "/reset/done/",
    "/verify-email/",
    "/unlock/",
    "/account/..",
    "/mfa/",
    "/csp-report/",
]
HOSTS = [
    "localhost",
    "localhost",
    "localhost",
    "127.0.0.1:5000",
    "[::1]:8080",
    "id.example.org",
    "evil.example",
    "a" * 64 + ".example.org",
    "id..example.org",
    "x" * 300,
    "localhost:abc",
    "localhost:99999",
    "\u00e4.example",
    "xn--.example",
    "host with spaces",
    "",
    "localhost, evil.example",
]
PARAMETER_NAMES = [
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "prompt",
    "code_challenge", "code_challenge_method", "max_age", "id_token_hint", "login_hint",
    "acr_values", "request", "request_uri", "response_mode", "post_logout_redirect_uri",
    "grant_type", "code", "code_verifier", "refresh_token", "client_secret", "client_assertion",
    "client_assertion_type", "token", "token_type_hint", "resource", "audience", "username",
    "password", "email", "next", "csrf_token", "action", "decision", "authorization_request",
    "new_password", "current_password", "name", "session_id", "client", "document-uri",
]  # fmt: skip
ODD_NAMES = ['a"b', "a\\b", "a\x01b", "caf\u00e9", "", "[]", "a[b]", "__proto__", "\u2028",
             "x" * 300, "client_id ", " scope", "SCOPE", "%00", "&", "="]  # fmt: skip
ODD_VALUES = [
    "", " ", "a", "0", "-1", "1e309", "99999999999999999999999", "null", "true",
    "openid", "openid profile email offline_access", "code", "token", "none", "login consent",
    "S256", "plain", "authorization_code", "refresh_token", "client_credentials", "password",
    "urn:ietf:params:oauth:grant-type:jwt-bearer", "https://rp.example.com/cb",
    "http://127.0.0.1:80@evil.example/cb", "javascript:alert(1)", "//evil.example",
    "/\\evil.example", "https://evil.example/%2e%2e", "\x00", "a\x00b", "\r\nSet-Cookie: x=1",
    "\u202e\u0301", "\U0001f600", "\u00e9" * 20, "<script>alert(1)</script>",
    "' OR 1=1 --", '{"a": 1}', "[1,2]", "%ff%fe", "%", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "eyJ", "a.b.c", "Basic Og==", "*", "../../etc/passwd",
]  # fmt: skip
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-9",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/json",
    "application/json; charset=utf-8",
    "application/reports+json",
    "application/csp-report",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "text/plain",
    "text/html",
    "application/octet-stream",
    "application/xml",
    "application/jwt",
    "*/*",
    "garbage",
    "",
]
ACCEPTS = ["text/html", "application/json", "*/*", "", "text/html;q=0, application/json;q=x",
           "image/*", "application/json, text/html"]  # fmt: skip


class Generator:
    def __init__(self, seed: int, routes: list[str], secrets: LiveSecrets) -> None:
        self.seed = seed
        self.routes = routes
        self.secrets = secrets
        self.secret_values = secrets.values()

    def request(self, index: int) -> FuzzRequest:
        rng = random.Random(f"{self.seed}:{index}")
        method = rng.choice(METHODS) if rng.random() < 0.97 else rng.choice(ODD_METHODS)
        headers = self._headers(rng)
        query = self._query(rng) if rng.random() < 0.5 else b""
        body, content_type = (b"", None)
        if method not in ("GET", "HEAD") or rng.random() < 0.05:
            body, content_type = self._body(rng)
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        return FuzzRequest(
            persona=rng.choice(PERSONAS),
            method=method,
            path=self._path(rng),
            query=query,
            headers=headers,
            body=body,
        )

    # --- pieces ----------------------------------------------------------------------------------

    def _value(self, rng: random.Random, *, secret: bool = True) -> str:
        roll = rng.random()
        if roll < 0.25 and secret and self.secret_values:
            return rng.choice([*self.secret_values, self.secrets.client_id])
        if roll < 0.35:
            # Past the body limit (64 KiB) now and then only: encoding and decoding that much
            # is most of what such a request costs, in the fuzzer and in the app.
            size = 70000 if rng.random() < 0.1 else rng.choice([100, 3000])
            return rng.choice(["x", "\u00e9", "%", "\x00", "A"]) * size
        if roll < 0.45:
            return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 40)))
        return rng.choice(ODD_VALUES)

    def _name(self, rng: random.Random) -> str:
        return rng.choice(ODD_NAMES) if rng.random() < 0.15 else rng.choice(PARAMETER_NAMES)

    def _pairs(self, rng: random.Random) -> list[tuple[str, str]]:
        pairs = [(self._name(rng), self._value(rng)) for _ in range(rng.randrange(0, 8))]
        if pairs and rng.random() < 0.3:  # a parameter sent twice
            pairs.append(rng.choice(pairs))
        return pairs

    def _encoded(self, rng: random.Random, pairs: list[tuple[str, str]]) -> bytes:
        if rng.random() < 0.1:  # broken encodings: bad escapes, raw non-UTF-8 bytes, NULs
            junk = [b"%zz=1", b"a=%ff%fe", b"\xff\xfe=\x00", b"=&&=", b"a", b"%", b"a=b=c"]
            return b"&".join(rng.choice(junk) for _ in range(rng.randrange(1, 4)))
        return "&".join(f"{quote(name)}={quote(value)}" for name, value in pairs).encode()

    def _query(self, rng: random.Random) -> bytes:
        return self._encoded(rng, self._pairs(rng))

    def _path(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.6:
            path = rng.choice(self.routes)
        elif roll < 0.75:
            path = rng.choice(ODD_PATHS)
        elif roll < 0.9:
            path = self._link_path(rng)
        else:
            # No secrets here: a bare token in a path nobody links to cannot be told from a
            # page name (observability/redaction.py); the link paths below carry them.
            segments = [self._value(rng, secret=False)[:80] for _ in range(rng.randrange(1, 4))]
            path = "/" + "/".join(quote(segment, safe="") for segment in segments)
        if rng.random() < 0.02:
            path += "/" + "a" * rng.choice([1000, 9000])
        return path

    def _link_path(self, rng: random.Random) -> str:
        """An emailed link as a mail client or a person may mangle it, often with a live token."""
        prefix = rng.choice(LINK_PREFIXES)
        tokens = list(self.secrets.link_tokens.values()) or ["t" * 43]
        token = self.secrets.link_tokens.get(prefix) or rng.choice(tokens)
        if rng.random() < 0.3:  # another link's token under this prefix
            token = rng.choice(tokens)
        mangle = rng.choice(["", "!", "$%", "%20", "(", "\u00e9", "%2F", "/", ".", "'", "%22"])
        suffix = rng.choice(["", "", ")", ".", "/x", "%0A", ">", "&amp;", "\u00a0"])
        if rng.random() < 0.2:
            prefix = prefix.upper() if rng.random() < 0.5 else prefix.rstrip("/") + "%2F"
        cut = token if rng.random() < 0.7 else token[: rng.randrange(16, len(token) + 1)]
        return f"{prefix}{mangle}{cut}{suffix}"

    def _headers(self, rng: random.Random) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = [("Host", rng.choice(HOSTS))]
        if rng.random() < 0.5:
            headers.append(("Accept", rng.choice(ACCEPTS)))
        if rng.random() < 0.2:
            headers.append(("Authorization", self._authorization(rng)))
        if rng.random() < 0.1:
            headers.append(("Cookie", self._cookie(rng)))
        extras = [
            ("Origin", rng.choice(["https://rp.example.com", "null", "http://localhost", "x"])),
            ("Referer", rng.choice(["http://localhost/login", "https://evil.example/", "%%"])),
            ("X-Forwarded-For", rng.choice(["203.0.113.7", "::1, 1.2.3.4", "garbage", ""])),
            ("X-Forwarded-Proto", rng.choice(["https", "http", "ftp", "https, http"])),
            ("X-Forwarded-Host", rng.choice(["evil.example", "a" * 70 + ".x"])),
            ("X-Request-ID", rng.choice(["support-12345678", "a b", "x" * 200, "\u00e9"])),
            ("DPoP", rng.choice(["eyJhbGciOiJFUzI1NiJ9.e30.", "junk"])),
            ("Access-Control-Request-Method", rng.choice(["POST", "GET", "DELETE"])),
            ("If-None-Match", rng.choice(['"abc"', "*", "W/"])),
            ("If-Modified-Since", rng.choice(["yesterday", "Thu, 01 Jan 1970 00:00:00 GMT"])),
            ("Range", rng.choice(["bytes=0-1", "bytes=9-1", "lines=1"])),
            ("Accept-Encoding", rng.choice(["gzip", "br;q=x", "*"])),
            ("Accept-Language", rng.choice(["en", "*;q=2", "\u00e9"])),
            ("User-Agent", rng.choice(["", "Mozilla/5.0", "x" * 5000, "\u202e"])),
            ("Content-Encoding", rng.choice(["gzip", "br", "identity"])),
            ("Expect", "100-continue"),
            ("X-HTTP-Method-Override", rng.choice(["DELETE", "PUT"])),
        ]
        headers.extend(rng.sample(extras, rng.randrange(0, 4)))
        return headers

    def _authorization(self, rng: random.Random) -> str:
        secret = rng.choice(self.secret_values or ["x"])
        client_id = self.secrets.client_id
        client_secret = self.secrets.by_name.get("client secret", "secret")
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        return rng.choice(
            [
                f"Bearer {secret}",
                f"DPoP {secret}",
                f"Basic {basic}",
                f"Basic {basic}{basic}",
                "Basic !!!",
                "Basic " + base64.b64encode(b"\xff:\x00").decode(),
                "Bearer",
                "Negotiate abc",
                f"bearer  {secret} extra",
            ]
        )

    def _cookie(self, rng: random.Random) -> str:
        session = self.secrets.by_name.get("session cookie", "x")
        return rng.choice(
            [
                f"authserver_session={session}",
                f"__Host-authserver_session={session}; session=x",
                "authserver_session=; authserver_session=x",
                "a=" + "b" * 5000,
                "\u00e9=\u00e9",
                "session=eyJ.broken",
                "authserver_mfa_pending=junk",
            ]
        )

    def _body(self, rng: random.Random) -> tuple[bytes, str | None]:
        kind = rng.random()
        if kind < 0.45:
            body = self._encoded(rng, self._pairs(rng))
            return body, rng.choice(CONTENT_TYPES[:3]) if rng.random() < 0.85 else "text/plain"
        if kind < 0.65:
            return self._json(rng), rng.choice(CONTENT_TYPES[3:7])
        if kind < 0.75:
            return self._multipart(rng)
        if kind < 0.85:
            size = rng.choice([1, 100, 5000, 70000])
            return rng.randbytes(size), rng.choice(CONTENT_TYPES)
        if kind < 0.9:
            return b"", rng.choice(CONTENT_TYPES)
        return self._encoded(rng, self._pairs(rng)), None

    def _json(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.1:
            depth = rng.choice([100, 2000, 5000])
            return ("[" * depth + "]" * depth).encode()
        if roll < 0.2:
            return rng.choice([b"{", b"[1,", b'{"a":}', b"\xff\xfe", b"NaN", b"1e999999", b"null"])
        value: object
        shape = rng.random()
        if shape < 0.5:
            value = {name: self._json_value(rng) for name, _ in self._pairs(rng)}
        elif shape < 0.7:
            value = [self._json_value(rng) for _ in range(rng.randrange(0, 5))]
        else:
            value = self._json_value(rng)
        if rng.random() < 0.1:
            value = {"csp-report": value}
        return json.dumps(value).encode()

    def _json_value(self, rng: random.Random) -> object:
        return rng.choice(
            [self._value(rng), rng.randrange(-(2**70), 2**70), None, True, 1.5, [], {"a": [1]}]
        )

    def _multipart(self, rng: random.Random) -> tuple[bytes, str]:
        boundary = "fuzzboundary"
        parts = []
        for name, value in self._pairs(rng):
            disposition = f'form-data; name="{name}"'
            if rng.random() < 0.3:
                disposition += f'; filename="{rng.choice(["a.txt", "", "../x", "é"])}"'
            parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n")
        body = "".join(parts) + (f"--{boundary}--\r\n" if rng.random() < 0.8 else "")
        content_type = f"multipart/form-data; boundary={boundary}"
        if rng.random() < 0.15:
            content_type = rng.choice(["multipart/form-data", "multipart/form-data; boundary=x"])
        return body.encode("utf-8", "surrogatepass"), content_type

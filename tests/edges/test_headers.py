"""Security headers and the Content-Security-Policy, as a browser receives them."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.oauth.errors import ClientRegistrationError
from tests.conftest import AppFactory
from tests.edges.conftest import PRODUCTION_ISSUER
from tests.edges.test_csp_report import legacy_report
from tests.support.mfa import enrol, frozen_clock
from tests.support.oauth import (
    PASSWORD,
    Pkce,
    authorization_params,
    authorize,
    csrf_token,
    make_relying_party,
    make_user,
    sign_in,
)
from tests.support.web import sign_in as web_sign_in

SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)
SELF_HOSTED_SCRIPT = re.compile(r'<script src="/static/[a-z_]+\.js" defer>')
# Inline code: a style element, or a script that is not an empty element naming its file.
INLINE_SCRIPT_OR_STYLE = re.compile(
    r"<style\b|<script\b(?![^>]*\ssrc=\"/static/[^\"]+\.js\"[^>]*></script>)", re.IGNORECASE
)


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} appears twice"
        parsed[name] = sources
    return parsed


def csp(response: TestResponse, name: str = "Content-Security-Policy") -> dict[str, list[str]]:
    return directives(response.headers[name])


@pytest.mark.parametrize("path", ["/login", "/reset", "/no-such-page", "/oauth/token"])
def test_every_response_carries_the_policy(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})

    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["report-uri"] == ["/csp-report"]
    assert policy["report-to"] == ["csp"]
    assert response.headers["Reporting-Endpoints"] == 'csp="/csp-report"'
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_scripts_and_styles_need_this_requests_nonce(client: FlaskClient) -> None:
    first, second = client.get("/login"), client.get("/login")

    nonces = []
    for response in (first, second):
        policy = csp(response)
        (nonce,) = [s for s in policy["script-src"] if s.startswith("'nonce-")]
        assert policy["script-src"] == ["'self'", nonce]
        assert policy["style-src"] == ["'self'", nonce]
        nonces.append(nonce)
    assert nonces[0] != nonces[1], "a nonce is never reused"
    assert len(nonces[0]) >= len("'nonce-'") + 22  # at least 128 bits of randomness


@pytest.mark.parametrize("path", ["/login", "/reset", "/", "/no-such-page"])
def test_pages_have_no_inline_script_or_style_without_the_nonce(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    nonce = next(s for s in csp(response)["script-src"] if s.startswith("'nonce-"))

    # A self-hosted script file is allowed by 'self'; anything inline needs the nonce.
    for tag in SCRIPT_OR_STYLE.finditer(response.text):
        if SELF_HOSTED_SCRIPT.fullmatch(tag.group(0)):
            continue
        assert f'nonce="{nonce[7:-1]}"' in tag.group(0), tag.group(0)
    assert " style=" not in response.text
    assert re.search(r"\son[a-z]+=", response.text) is None, "no inline event handlers"


def test_other_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in permissions
    assert "Strict-Transport-Security" not in response.headers, "never on http development"


def test_https_in_development_still_sends_no_hsts(client: FlaskClient) -> None:
    response = client.get("/login", base_url="https://localhost")

    assert "Strict-Transport-Security" not in response.headers


def test_production_sends_hsts_over_https_only(make_app: AppFactory) -> None:
    app = make_app(env="production", issuer=PRODUCTION_ISSUER)
    client = app.test_client()

    secure = client.get("/login", base_url="https://localhost")
    plain = client.get("/healthz")  # probes answer over http; HSTS must not ride on them

    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert plain.status_code == 200
    assert "Strict-Transport-Security" not in plain.headers


def test_a_page_that_chose_no_referrer_keeps_it(client: FlaskClient) -> None:
    response = client.get("/reset/" + "x" * 43)

    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_pages_stay_out_of_caches(client: FlaskClient) -> None:
    make_user()
    sign_in(client)

    for path in ("/account", "/login", "/account/mfa", "/reset/" + "x" * 43):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    with client.get("/static/style.css") as stylesheet:
        assert "no-store" not in stylesheet.headers.get("Cache-Control", "")


def test_report_only_mode_reports_the_policy_and_enforces_a_safe_baseline(
    make_app: AppFactory,
) -> None:
    client = make_app(csp_report_only=True).test_client()

    response = client.get("/login")

    reported = csp(response, "Content-Security-Policy-Report-Only")
    assert reported["form-action"] == ["'self'"]
    assert reported["report-uri"] == ["/csp-report"]
    assert csp(response) == {
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }


# --- form-action: the client in play, and only that client -------------------------------------


def test_consent_page_allows_its_form_to_return_to_the_client(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party()
    make_relying_party(name="Other", redirect_uris=("https://other.example.net/cb",))

    page = authorize(client, rp, Pkce())

    assert page.status_code == 200 and "authorization_request" in page.text
    assert csp(page)["form-action"] == ["'self'", "https://rp.example.com"]


def test_sign_in_that_continues_an_authorization_allows_the_client(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(redirect_uris=("http://127.0.0.1:8123/callback",))
    next_url = "/oauth/authorize?" + urlencode(authorization_params(rp, Pkce()))

    page = client.get("/login?" + urlencode({"next": next_url}))
    failed = client.post(
        "/login",
        data={"email": "ada@example.com", "password": "wrong", "next": next_url,
              "csrf_token": csrf_token(page)},
    )  # fmt: skip

    assert csp(page)["form-action"] == ["'self'", "http://127.0.0.1:8123"]
    assert failed.status_code == 401
    assert csp(failed)["form-action"] == ["'self'", "http://127.0.0.1:8123"]


@pytest.mark.parametrize(
    "next_url",
    [
        "/account",
        "https://evil.example/oauth/authorize?client_id=x",
        "/oauth/authorize?client_id=unknown&redirect_uri=https://evil.example/cb",
    ],
)
def test_sign_in_elsewhere_allows_only_self(client: FlaskClient, next_url: str) -> None:
    make_relying_party()

    page = client.get("/login?" + urlencode({"next": next_url}))

    assert csp(page)["form-action"] == ["'self'"]


def test_unregistered_redirect_uri_of_a_real_client_is_not_allowed(client: FlaskClient) -> None:
    rp = make_relying_party()
    params = authorization_params(rp, Pkce(), redirect_uri="https://evil.example/cb")

    page = client.get("/login?" + urlencode({"next": "/oauth/authorize?" + urlencode(params)}))

    assert csp(page)["form-action"] == ["'self'"]


def test_logout_confirmation_allows_the_post_logout_redirect(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party(post_logout_redirect_uris=("https://rp.example.com:8443/bye",))
    query = {
        "client_id": rp.client_id,
        "post_logout_redirect_uri": "https://rp.example.com:8443/bye",
    }

    page = client.get("/oauth/logout?" + urlencode(query))

    assert ">Sign out</button>" in page.text
    assert csp(page)["form-action"] == ["'self'", "https://rp.example.com:8443"]


def test_a_registered_uri_cannot_inject_into_the_policy(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    hostile = "https://rp.example.com;script-src 'unsafe-inline'/cb"
    # Registration refuses it now (a space); a row an older release stored is still harmless.
    with pytest.raises(ClientRegistrationError):
        make_relying_party(redirect_uris=(hostile,))
    rp = make_relying_party()
    rp.client.redirect_uris = [hostile]
    db.session.commit()
    rp.redirect_uri = hostile

    page = authorize(client, rp, Pkce())

    header = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert csp(page)["form-action"] == ["'self'"]


def test_second_factor_page_that_continues_an_authorization_allows_the_client(
    client: FlaskClient,
) -> None:
    with frozen_clock() as clock:
        make_user()
        sign_in(client)
        enrol(client)
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/"))})
        clock.next_step()
        rp = make_relying_party()
        next_url = "/oauth/authorize?" + urlencode(authorization_params(rp, Pkce()))

        password_ok = web_sign_in(client, "ada@example.com", PASSWORD, next_path=next_url)
        challenge = client.get(password_ok.headers["Location"])

    assert challenge.status_code == 200 and 'name="code"' in challenge.text
    assert csp(challenge)["form-action"] == ["'self'", "https://rp.example.com"]


def test_signed_in_pages_have_no_inline_script_or_style(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    consent = authorize(client, make_relying_party(), Pkce())

    for page in (client.get("/account"), client.get("/account/mfa"), consent):
        assert page.status_code == 200
        assert INLINE_SCRIPT_OR_STYLE.search(page.text) is None
        assert re.search(r"\sstyle=", page.text) is None


# --- every header we send, exactly: a library upgrade that changes one fails here --------------

# Headers that carry the answer itself (or CORS, tested in test_cors.py), not its security policy.
ANSWER_HEADERS = {
    "Content-Type", "Content-Length", "Content-Disposition", "Accept-Ranges", "ETag",
    "Last-Modified", "Date", "Age", "Vary", "Location", "Set-Cookie", "X-Request-ID",
    "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
}  # fmt: skip
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{32})'")  # 192 bits, URL-safe base64
ANY_NONCE = "'nonce-…'"
FULL_POLICY = (
    "default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'; report-to csp; "
    "report-uri /csp-report"
)
PAGE_POLICY = FULL_POLICY.format(nonce=" " + ANY_NONCE)
MACHINE_POLICY = FULL_POLICY.format(nonce="")
BASELINE_POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"
    ),
    "Reporting-Endpoints": 'csp="/csp-report"',
}


def policy_headers(response: TestResponse) -> dict[str, str]:
    """Every header but the answer's own, each sent once, with the page's nonce blanked out."""
    names = [name for name, _ in response.headers.items() if name not in ANSWER_HEADERS]
    assert len(names) == len(set(names)), f"a header appears twice: {names}"
    sent = {name: response.headers[name] for name in names}
    for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only"):
        if name in sent:
            assert len(set(NONCE.findall(sent[name]))) <= 1, "one nonce per response"
            sent[name] = NONCE.sub(ANY_NONCE, sent[name])
    return sent


def expected(*, policy: str, report_only: bool, hsts: bool) -> dict[str, str]:
    headers = dict(COMMON)
    if report_only:
        headers["Content-Security-Policy-Report-Only"] = policy
        headers["Content-Security-Policy"] = BASELINE_POLICY
    else:
        headers["Content-Security-Policy"] = policy
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


@pytest.mark.parametrize("report_only", [False, True], ids=["enforced", "report-only"])
@pytest.mark.parametrize("env", ["development", "production"])
def test_the_exact_headers_of_each_kind_of_answer(
    make_app: AppFactory, env: str, report_only: bool
) -> None:
    production = env == "production"
    changes = {"env": env, "issuer": PRODUCTION_ISSUER} if production else {}
    app = make_app(csp_report_only=report_only, **changes)

    def crash() -> str:
        raise RuntimeError("a page that fails")

    app.add_url_rule("/test-only/crash", "page_crash", crash)

    def answer(method: str, path: str, **kwargs: object) -> TestResponse:
        # A new client each time: no cookie, so the public documents may come from their copy.
        base_url = "https://localhost" if production else "http://localhost"
        return app.test_client().open(path, method=method, base_url=base_url, **kwargs)

    html = {"Accept": "text/html"}
    report = {"data": json.dumps(legacy_report()), "content_type": "application/csp-report"}
    page = expected(policy=PAGE_POLICY, report_only=report_only, hsts=production)
    page["Cache-Control"] = "no-store"
    machine = expected(policy=MACHINE_POLICY, report_only=report_only, hsts=production)
    answers = {
        "sign-in page": (answer("GET", "/login"), page),
        "reset-link page": (
            answer("GET", "/reset/" + "x" * 43),
            page | {"Referrer-Policy": "no-referrer"},
        ),
        "404 page": (answer("GET", "/no-such-page", headers=html), page),
        "500 page": (answer("GET", "/test-only/crash", headers=html), page),
        "redirect": (answer("GET", "/account"), page),
        "token error": (
            answer("POST", "/oauth/token", data={"grant_type": "unknown"}),
            machine | {"Cache-Control": "no-store", "Pragma": "no-cache"},
        ),
        "404 JSON": (
            answer("GET", "/no-such-page", headers={"Accept": "application/json"}),
            machine | {"Cache-Control": "no-store"},
        ),
        "JWKS": (
            answer("GET", "/.well-known/jwks.json"),
            machine | {"Cache-Control": "public, max-age=900"},
        ),
        "JWKS copy": (
            answer("GET", "/.well-known/jwks.json"),
            machine | {"Cache-Control": "public, max-age=900"},
        ),
        "discovery": (
            answer("GET", "/.well-known/openid-configuration"),
            machine | {"Cache-Control": "public, max-age=3600"},
        ),
        "probe": (answer("GET", "/healthz"), machine),
        # Browsers post reports to the machine surface: its constant headers, no page nonce.
        "CSP report": (answer("POST", "/csp-report", **report), machine),
        "stylesheet": (
            answer("GET", "/static/style.css"),
            machine | {"Cache-Control": "no-cache"},
        ),
    }

    for response, _ in answers.values():
        response.close()
    for kind, (response, headers) in answers.items():
        assert policy_headers(response) == headers, kind
    statuses = {kind: response.status_code for kind, (response, _) in answers.items()}
    assert statuses == {
        "sign-in page": 200, "reset-link page": 400, "404 page": 404, "500 page": 500,
        "redirect": 303, "token error": 400, "404 JSON": 404, "JWKS": 200, "JWKS copy": 200,
        "discovery": 200, "probe": 200, "CSP report": 204, "stylesheet": 200,
    }  # fmt: skip


def test_plain_http_in_production_never_carries_hsts(make_app: AppFactory) -> None:
    """RFC 6797 §7.2: an HSTS host MUST NOT send the header over a non-secure transport."""
    app = make_app(env="production", issuer=PRODUCTION_ISSUER)

    probe = app.test_client().get("/healthz")
    refused = app.test_client().post("/oauth/token", data={"grant_type": "unknown"})
    redirected = app.test_client().get("/login")

    assert (probe.status_code, refused.status_code, redirected.status_code) == (200, 400, 302)
    for response in (probe, refused, redirected):
        assert "Strict-Transport-Security" not in response.headers

"""Security headers and the Content-Security-Policy, as a browser receives them."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.oauth.errors import ClientRegistrationError
from tests.conftest import AppFactory
from tests.edges.conftest import PRODUCTION_ISSUER
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

    for tag in SCRIPT_OR_STYLE.finditer(response.text):
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
        assert SCRIPT_OR_STYLE.search(page.text) is None
        assert re.search(r"\sstyle=", page.text) is None

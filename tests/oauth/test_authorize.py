"""The authorization endpoint: error pages, error redirects, sign-in, consent, prompt, max_age."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.tokens import Consent
from tests.support import web
from tests.support.oauth import (
    ISSUER,
    PASSWORD,
    Pkce,
    RelyingParty,
    authorization_params,
    authorize,
    consent,
    make_relying_party,
    make_user,
    redirect_params,
    sign_in,
)


@pytest.fixture
def rp() -> RelyingParty:
    make_user()
    return make_relying_party()


def get_authorize(client: FlaskClient, params: dict[str, str]) -> object:
    return client.get("/oauth/authorize?" + urlencode(params))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "no-such-client"}, "not registered here"),
        ({"client_id": ""}, "exactly one client_id"),
        ({"redirect_uri": "https://evil.example/callback"}, "redirect URI is not registered"),
        ({"redirect_uri": "https://rp.example.com/callback/"}, "redirect URI is not registered"),
        ({"redirect_uri": "https://rp.example.com/callback?x=1"}, "redirect URI is not registered"),
        ({"redirect_uri": ""}, "exactly one redirect_uri"),
    ],
)
def test_untrusted_client_or_redirect_gets_an_error_page_never_a_redirect(
    client: FlaskClient, rp: RelyingParty, change: dict[str, str], message: str
) -> None:
    params = {**authorization_params(rp, Pkce()), **change}

    response = client.get("/oauth/authorize?" + urlencode(params))

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert message in response.text


def test_repeated_redirect_uri_is_an_error_page(client: FlaskClient, rp: RelyingParty) -> None:
    query = urlencode(authorization_params(rp, Pkce())) + "&redirect_uri=https%3A%2F%2Fevil.example"

    response = client.get("/oauth/authorize?" + query)

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": 'openid "quoted"'}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example.com/req"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
def test_bad_requests_are_redirected_back_with_error_state_and_issuer(
    client: FlaskClient, rp: RelyingParty, change: dict[str, str], error: str
) -> None:
    params = {**authorization_params(rp, Pkce()), **change}

    response = client.get("/oauth/authorize?" + urlencode(params))

    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    returned = redirect_params(response)
    assert returned["error"] == error
    assert returned["state"] == "state-123"
    assert returned["iss"] == ISSUER


def test_pkce_is_required_for_every_client_by_default(
    client: FlaskClient, rp: RelyingParty
) -> None:
    response = authorize(client, rp, None)

    assert redirect_params(response)["error"] == "invalid_request"
    assert "PKCE" in redirect_params(response)["error_description"]


def test_client_without_the_code_grant_is_unauthorized(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(grant_types=("client_credentials",), scope="api:read")

    response = authorize(client, rp, Pkce(), scope="api:read")

    assert redirect_params(response)["error"] == "unauthorized_client"


def test_unsigned_in_user_is_sent_to_sign_in_and_back(
    client: FlaskClient, rp: RelyingParty
) -> None:
    response = authorize(client, rp, Pkce(), login_hint="ada@example.com")

    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302
    assert location.path == "/login"
    query = parse_qs(location.query)
    assert query["login_hint"] == ["ada@example.com"]
    assert query["next"][0].startswith("/oauth/authorize?")


def test_prompt_none_without_session_is_login_required(
    client: FlaskClient, rp: RelyingParty
) -> None:
    response = authorize(client, rp, Pkce(), prompt="none")

    assert redirect_params(response)["error"] == "login_required"


def test_prompt_none_without_consent_is_consent_required(
    client: FlaskClient, rp: RelyingParty
) -> None:
    sign_in(client)

    response = authorize(client, rp, Pkce(), prompt="none")

    assert redirect_params(response)["error"] == "consent_required"


def test_consent_page_names_client_and_scopes_and_is_remembered(
    client: FlaskClient, rp: RelyingParty
) -> None:
    sign_in(client)

    page = authorize(client, rp, Pkce(), scope="openid email")
    assert page.status_code == 200
    assert "Example App" in page.text
    assert "Your email address" in page.text
    assert ">Allow</button>" in page.text and ">Deny</button>" in page.text
    assert "code" in redirect_params(consent(client, page))

    again = authorize(client, rp, Pkce(), scope="openid")
    assert "code" in redirect_params(again), "a subset of consented scopes asks nothing"
    wider = authorize(client, rp, Pkce(), scope="openid email profile")
    assert wider.status_code == 200, "a new scope asks again"
    stored = db.session.scalar(select(Consent.scope))
    assert stored == "openid email"


def test_deny_is_access_denied(client: FlaskClient, rp: RelyingParty) -> None:
    sign_in(client)
    page = authorize(client, rp, Pkce())

    response = consent(client, page, decision="deny")

    assert redirect_params(response)["error"] == "access_denied"
    assert redirect_params(response)["state"] == "state-123"


def test_consent_post_without_csrf_token_is_refused(client: FlaskClient, rp: RelyingParty) -> None:
    sign_in(client)
    authorize(client, rp, Pkce())

    response = client.post(
        "/oauth/authorize/consent",
        data={
            "authorization_request": urlencode(authorization_params(rp, Pkce())),
            "decision": "allow",
        },
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_first_party_client_skips_consent(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(skip_consent=True)
    sign_in(client)

    assert "code" in redirect_params(authorize(client, rp, Pkce()))


def test_prompt_consent_asks_even_when_consented(client: FlaskClient, rp: RelyingParty) -> None:
    sign_in(client)
    consent(client, authorize(client, rp, Pkce()))

    assert authorize(client, rp, Pkce(), prompt="consent").status_code == 200


def test_prompt_login_sends_a_signed_in_user_to_sign_in_without_looping(
    client: FlaskClient, rp: RelyingParty
) -> None:
    sign_in(client)

    response = authorize(client, rp, Pkce(), prompt="login")

    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert "prompt" not in parse_qs(urlsplit(parse_qs(location.query)["next"][0]).query)


def test_max_age_zero_forces_a_fresh_sign_in(client: FlaskClient, rp: RelyingParty) -> None:
    sign_in(client)

    response = authorize(client, rp, Pkce(), max_age="0")

    assert urlsplit(response.headers["Location"]).path == "/login"


def test_max_age_is_satisfied_by_the_sign_in_it_asks_for(
    client: FlaskClient, rp: RelyingParty
) -> None:
    """OIDC Core §3.1.2.1: max_age=0 means "sign in again", like prompt=login; once the user
    has, the request goes on to consent instead of sending them back to the sign-in page."""
    sign_in(client)
    to_sign_in = authorize(client, rp, Pkce(), max_age="0")
    next_url = parse_qs(urlsplit(to_sign_in.headers["Location"]).query)["next"][0]

    signed_in = web.sign_in(client, "ada@example.com", PASSWORD, next_path=next_url)
    resumed = client.get(signed_in.headers["Location"])

    assert resumed.status_code == 200, resumed.headers.get("Location")
    assert 'name="authorization_request"' in resumed.text


def test_public_client_loopback_redirect_may_change_port(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(
        redirect_uris=("http://127.0.0.1:8400/cb",),
        token_endpoint_auth_method="none",
        skip_consent=True,
    )
    sign_in(client)
    rp.redirect_uri = "http://127.0.0.1:51234/cb"

    response = authorize(client, rp, Pkce())

    assert response.headers["Location"].startswith("http://127.0.0.1:51234/cb?code=")


@pytest.mark.parametrize(
    "requested",
    ["http://127.0.0.1:51234/other", "http://localhost:8400/cb", "https://127.0.0.1:8400/cb"],
)
def test_loopback_port_freedom_changes_nothing_else(client: FlaskClient, requested: str) -> None:
    make_user()
    rp = make_relying_party(
        redirect_uris=("http://127.0.0.1:8400/cb",), token_endpoint_auth_method="none"
    )
    rp.redirect_uri = requested

    response = authorize(client, rp, Pkce())

    assert response.status_code == 400


def test_confidential_client_loopback_redirect_must_match_exactly(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(redirect_uris=("http://127.0.0.1:8400/cb",))
    rp.redirect_uri = "http://127.0.0.1:51234/cb"

    assert authorize(client, rp, Pkce()).status_code == 400


DISGUISED_LOOPBACK = "http://127.0.0.1:80@evil.example/cb"


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_a_stored_redirect_uri_with_user_information_is_never_used(
    client: FlaskClient, public: bool
) -> None:
    """RFC 8252 §8.3, RFC 9700 §2.1: the host of that URI is evil.example, not the loopback.

    Registration refuses it now; a row stored by an older release must not be honoured either.
    """
    make_user()
    method = "none" if public else "client_secret_basic"
    rp = make_relying_party(
        redirect_uris=("http://127.0.0.1:8400/cb",),
        token_endpoint_auth_method=method,
        skip_consent=True,
    )
    rp.client.redirect_uris = [DISGUISED_LOOPBACK]
    db.session.commit()
    sign_in(client)
    rp.redirect_uri = DISGUISED_LOOPBACK

    response = authorize(client, rp, Pkce())

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "The redirect URI is refused: must not contain user information" in response.text


@pytest.mark.parametrize(
    "requested",
    [
        "http://127.0.0.1:8400@evil.example/cb",
        "http://user@127.0.0.1:8400/cb",
        "http://[::1]:8400@evil.example/cb",
    ],
)
def test_a_loopback_redirect_with_user_information_never_matches(
    client: FlaskClient, requested: str
) -> None:
    make_user()
    rp = make_relying_party(
        redirect_uris=("http://127.0.0.1:8400/cb", "http://[::1]:8400/cb"),
        token_endpoint_auth_method="none",
        skip_consent=True,
    )
    sign_in(client)
    rp.redirect_uri = requested

    response = authorize(client, rp, Pkce())

    assert response.status_code == 400
    assert "Location" not in response.headers

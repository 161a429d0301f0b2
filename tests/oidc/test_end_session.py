"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask.testing import FlaskClient

from authserver.extensions import db
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    authorize,
    csrf_token,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    redirect_params,
    sign_in,
)

LOGGED_OUT = "https://rp.example.com/logged-out"


def signed_in_with_id_token(client: FlaskClient) -> tuple[RelyingParty, str]:
    make_user()
    sign_in(client)
    rp = make_relying_party()
    pkce = Pkce()
    body = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    return rp, body["id_token"]


def test_valid_hint_ends_the_session_and_returns_with_state(client: FlaskClient) -> None:
    rp, id_token = signed_in_with_id_token(client)

    response = client.get(
        "/oauth/logout?"
        + urlencode(
            {"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT, "state": "s1"}
        )
    )

    assert response.status_code == 302
    assert response.headers["Location"] == LOGGED_OUT + "?state=s1"
    after = authorize(client, rp, Pkce(), prompt="none")
    assert redirect_params(after)["error"] == "login_required"


def test_without_hint_the_user_confirms_with_a_sign_out_button(client: FlaskClient) -> None:
    rp, _ = signed_in_with_id_token(client)

    page = client.get("/oauth/logout")
    assert page.status_code == 200
    assert ">Sign out</button>" in page.text
    still = authorize(client, rp, Pkce(), prompt="none")
    assert "code" in redirect_params(still), "nothing ends before the user confirms"

    done = client.post(
        "/oauth/logout/confirm", data={"csrf_token": csrf_token(page), "logout_request": ""}
    )
    assert done.status_code == 200
    assert "signed out" in done.text
    assert (
        redirect_params(authorize(client, rp, Pkce(), prompt="none"))["error"] == "login_required"
    )


def test_unregistered_post_logout_redirect_is_refused(client: FlaskClient) -> None:
    _, id_token = signed_in_with_id_token(client)

    response = client.get(
        "/oauth/logout?"
        + urlencode(
            {"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"}
        )
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_redirect_without_a_way_to_identify_the_client_is_refused(client: FlaskClient) -> None:
    response = client.get("/oauth/logout?" + urlencode({"post_logout_redirect_uri": LOGGED_OUT}))

    assert response.status_code == 400


def test_client_id_must_match_the_hint(client: FlaskClient) -> None:
    _, id_token = signed_in_with_id_token(client)
    other = make_relying_party(name="Other")

    response = client.get(
        "/oauth/logout?" + urlencode({"id_token_hint": id_token, "client_id": other.client_id})
    )

    assert response.status_code == 400


def test_a_stored_post_logout_uri_with_user_information_is_never_used(client: FlaskClient) -> None:
    """RFC 9700 §2.1: registration refuses such a URI; one stored earlier is not honoured."""
    rp, id_token = signed_in_with_id_token(client)
    disguised = "http://127.0.0.1:80@evil.example/logged-out"
    rp.client.post_logout_redirect_uris = [disguised]
    db.session.commit()

    response = client.get(
        "/oauth/logout?"
        + urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": disguised})
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "That return address is not allowed." in response.text

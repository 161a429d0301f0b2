"""A client may demand a second factor (acr_values or its require_mfa flag), and ID tokens say
which factors were used: `amr` ["pwd", "otp"] and the MFA `acr` (OIDC Core §2, RFC 8176).

Everything goes through /oauth/authorize and /oauth/token; tokens are verified with PyJWT
against the published JWKS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.sessions import ACR_MFA, ACR_PASSWORD
from tests.support import web
from tests.support.mfa import (
    Authenticator,
    Clock,
    answer_challenge,
    confirm_codes_saved,
    enrol,
    frozen_clock,
    next_of,
    post_code,
    read_setup_page,
)
from tests.support.oauth import (
    ISSUER,
    PASSWORD,
    Pkce,
    RelyingParty,
    authorization_params,
    authorize,
    consent,
    csrf_token,
    exchange_code,
    make_relying_party,
    make_user,
    redirect_params,
    sign_in,
    verify_jwt,
)


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


def enrolled_elsewhere(app: Flask, clock: Clock) -> Authenticator:
    """Ada sets up an app in another browser; this browser's session (if any) is unchanged."""
    other = app.test_client()
    sign_in(other)
    authenticator = enrol(other).authenticator
    clock.next_step()
    return authenticator


def tokens_for(client: FlaskClient, rp: RelyingParty, pkce: Pkce, response: TestResponse) -> Any:
    if response.status_code == 200:
        response = consent(client, response)
    code = redirect_params(response)["code"]
    exchanged = exchange_code(client, rp, code, pkce)
    assert exchanged.status_code == 200, exchanged.json
    return exchanged.json


def id_token_of(client: FlaskClient, rp: RelyingParty, tokens: Any) -> dict[str, Any]:
    return verify_jwt(client, tokens["id_token"], audience=rp.client_id, typ="JWT")


def test_signing_in_with_mfa_puts_otp_and_the_mfa_acr_in_the_tokens(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    authenticator = enrolled_elsewhere(app, clock)
    rp = make_relying_party()
    pkce = Pkce()

    to_sign_in = authorize(client, rp, pkce)
    assert to_sign_in.headers["Location"].startswith("/login?")
    resume = next_of(to_sign_in.headers["Location"])
    signed_in = web.sign_in(client, "ada@example.com", PASSWORD, next_path=resume)
    assert signed_in.headers["Location"].startswith("/mfa?")
    resumed = answer_challenge(client, authenticator.code(), signed_in.headers["Location"])
    tokens = tokens_for(client, rp, pkce, client.get(resumed.headers["Location"]))

    id_token = id_token_of(client, rp, tokens)
    assert id_token["amr"] == ["pwd", "otp"]
    assert id_token["acr"] == ACR_MFA
    access = verify_jwt(client, tokens["access_token"], audience=ISSUER, typ="at+jwt")
    assert access["acr"] == ACR_MFA


@pytest.mark.parametrize(
    "demand",
    [{"acr_values": ACR_MFA}, {"acr_values": f"urn:example:other {ACR_MFA}"}, "require_mfa"],
    ids=["acr_values", "acr_values-with-unknown", "client-flag"],
)
def test_a_password_session_steps_up_when_the_client_demands_mfa(
    app: Flask, client: FlaskClient, clock: Clock, demand: dict[str, str] | str
) -> None:
    sign_in(client)  # before the app was set up: a password-only session
    authenticator = enrolled_elsewhere(app, clock)
    rp = make_relying_party(require_mfa=demand == "require_mfa")
    pkce = Pkce()
    extra = demand if isinstance(demand, dict) else {}

    response = authorize(client, rp, pkce, **extra)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/mfa?")
    resume = next_of(response.headers["Location"])
    assert resume.startswith("/oauth/authorize?")
    stepped_up = answer_challenge(client, authenticator.code(), response.headers["Location"])
    assert stepped_up.headers["Location"] == resume
    id_token = id_token_of(client, rp, tokens_for(client, rp, pkce, client.get(resume)))
    assert id_token["amr"] == ["pwd", "otp"]
    assert id_token["acr"] == ACR_MFA


def test_stepping_up_with_a_recovery_code_says_how_many_are_left_then_resumes(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)  # before the app was set up: a password-only session
    other = app.test_client()
    sign_in(other)
    codes = enrol(other).recovery_codes
    rp = make_relying_party(require_mfa=True)
    pkce = Pkce()

    response = authorize(client, rp, pkce)
    resume = next_of(response.headers["Location"])
    stepped_up = answer_challenge(client, codes[0], response.headers["Location"])

    assert stepped_up.status_code == 200
    assert "You have <strong>9</strong> recovery codes left." in stepped_up.text
    assert f'<a class="button" href="{resume.replace("&", "&amp;")}">Continue</a>' in (
        stepped_up.text
    )
    id_token = id_token_of(client, rp, tokens_for(client, rp, pkce, client.get(resume)))
    assert id_token["amr"] == ["pwd", "otp"]
    assert id_token["acr"] == ACR_MFA


def test_a_user_without_an_authenticator_sets_one_up_and_resumes(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)
    rp = make_relying_party(require_mfa=True)
    pkce = Pkce()

    response = authorize(client, rp, pkce)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/mfa?")
    resume = next_of(response.headers["Location"])
    setup = client.get(response.headers["Location"])
    authenticator, _ = read_setup_page(setup)
    done = post_code(client, "/account/mfa", setup, authenticator.code())
    assert done.status_code == 200
    # The "I have saved them" step comes first, then the authorization resumes.
    assert confirm_codes_saved(client, done, saved=False).status_code == 400
    saved = confirm_codes_saved(client, done)
    assert saved.status_code == 303
    assert saved.headers["Location"] == resume
    id_token = id_token_of(client, rp, tokens_for(client, rp, pkce, client.get(resume)))
    assert id_token["amr"] == ["pwd", "otp"]
    assert id_token["acr"] == ACR_MFA


def test_prompt_none_answers_interaction_required(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)
    enrolled_elsewhere(app, clock)
    rp = make_relying_party(skip_consent=True)

    response = authorize(client, rp, Pkce(), prompt="none", acr_values=ACR_MFA)

    params = redirect_params(response)
    assert params["error"] == "interaction_required"
    assert params["error_description"] == "This application requires a second factor."
    assert params["state"] == "state-123"
    assert "code" not in params


def test_prompt_none_without_an_authenticator_answers_interaction_required(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)
    rp = make_relying_party(skip_consent=True, require_mfa=True)

    response = authorize(client, rp, Pkce(), prompt="none")

    assert redirect_params(response)["error"] == "interaction_required"


def test_acr_values_that_also_accept_a_password_demand_nothing(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)
    rp = make_relying_party(skip_consent=True)
    pkce = Pkce()

    response = authorize(client, rp, pkce, acr_values=f"{ACR_MFA} {ACR_PASSWORD}")

    id_token = id_token_of(client, rp, tokens_for(client, rp, pkce, response))
    assert id_token["amr"] == ["pwd"]
    assert id_token["acr"] == ACR_PASSWORD


def test_the_consent_form_cannot_stand_in_for_the_second_factor(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    sign_in(client)
    enrolled_elsewhere(app, clock)
    rp = make_relying_party(require_mfa=True)
    params = authorization_params(rp, Pkce())
    page = client.get("/login")

    response = client.post(
        "/oauth/authorize/consent",
        data={
            "csrf_token": csrf_token(page),
            "authorization_request": urlencode(params),
            "decision": "allow",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/oauth/authorize?" + urlencode(params)
    assert client.get(response.headers["Location"]).headers["Location"].startswith("/mfa?")


def test_discovery_lists_both_acr_values(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json

    assert metadata["acr_values_supported"] == [ACR_PASSWORD, ACR_MFA]

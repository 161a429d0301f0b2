"""The MFA pages, driven like a browser: set-up at /account/mfa, the challenge at /mfa."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import qrcode
from flask import Flask
from flask.testing import FlaskClient
from qrcode.image.svg import SvgPathFillImage
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent
from authserver.sessions.cookies import COOKIE_NAME, SECURE_COOKIE_NAME
from authserver.web.mfa import EXPIRED_FORM, INVALID_CODE, MALFORMED_CODE, PENDING_COOKIE_NAME
from authserver.web.mfa_setup import WRONG_ENROLMENT_CODE
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.mfa import (
    Clock,
    Enrolment,
    answer_challenge,
    enrol,
    frozen_clock,
    post_code,
    read_setup_page,
    recovery_codes_on,
)
from tests.support.web import csrf_token, sign_in, sign_out


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


@pytest.fixture
def enrolled(client: FlaskClient, clock: Clock) -> Enrolment:
    """Alice has set up an app and signed out; the clock is in the step after enrolment."""
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client)
    sign_out(client)
    clock.next_step()
    return enrolment


def has_session(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def audit_tags() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))


def assert_page_is_csp_ready(html: str) -> None:
    # Scripts only as self-hosted files: no inline code, nothing from elsewhere.
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert all(body == "" for body in scripts)
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="/static/mfa.js" defer>' for _ in scripts
    ]
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html


# --- set-up ----------------------------------------------------------------------------------


def test_set_up_needs_a_signed_in_browser(client: FlaskClient, clock: Clock) -> None:
    response = client.get("/account/mfa")

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account/mfa"


def test_the_set_up_page_shows_the_qr_code_the_key_and_the_uri(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    page = client.get("/account/mfa")

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    authenticator, uri = read_setup_page(page)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == f"/localhost:{DEFAULT_EMAIL}"
    assert parse_qs(parts.query) == {"secret": [authenticator.secret], "issuer": ["localhost"]}
    # The QR code is inline SVG drawn here (no image service), and it encodes that very URI.
    expected = qrcode.make(uri, image_factory=SvgPathFillImage, error_correction=0)
    modules = re.search(r' d="([^"]+)"', expected.to_string(encoding="unicode"))
    assert modules and f'd="{modules.group(1)}"' in page.text
    assert re.search(r'<svg class="qr-code" role="img" aria-label="[^"]+"', page.text)
    assert "http://" not in page.text.split("<svg", 1)[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert '<label for="code">Authentication code</label>' in page.text
    assert re.search(r"<button[^>]*>Verify</button>", page.text)
    assert_page_is_csp_ready(page.text)


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"totp_issuer": "Example ID"}, "Example ID"),
        # No colon of the brand's: the app splits its label at the first one.
        ({"brand_name": "Acme: Staff Sign-in"}, "Acme Staff Sign-in"),
        ({"brand_name": "Acme", "totp_issuer": "Example ID"}, "Example ID"),
    ],
    ids=["issuer-name", "brand-name", "issuer-name-over-brand"],
)
def test_the_app_shows_the_issuer_name_or_else_the_brand(
    app: Flask, make_app: AppFactory, clock: Clock, settings: dict[str, str], shown: str
) -> None:
    client = make_app(**settings).test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    _, uri = read_setup_page(client.get("/account/mfa"))

    assert unquote(urlsplit(uri).path) == f"/{shown}:{DEFAULT_EMAIL}"
    assert parse_qs(urlsplit(uri).query)["issuer"] == [shown]


def test_a_wrong_code_does_not_enrol(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    page = client.get("/account/mfa")
    authenticator, _ = read_setup_page(page)
    wrong = "000000" if authenticator.code() != "000000" else "000001"

    response = post_code(client, "/account/mfa", page, wrong)

    assert response.status_code == 400
    # A lazy translation is our own text, written into the page as it is (Flask-Babel).
    assert str(WRONG_ENROLMENT_CODE) in response.text
    assert read_setup_page(response)[0] == authenticator  # the same secret: rescanning not needed
    assert "user:mfa:enrol" not in audit_tags()


def test_a_correct_code_enrols_and_shows_the_recovery_codes_once(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    enrolment = enrol(client)

    assert len(enrolment.recovery_codes) == 10
    assert enrolment.page.headers["Cache-Control"] == "no-store"
    assert_page_is_csp_ready(enrolment.page.text)
    manage = client.get("/account/mfa")
    assert "Your authenticator app is set up" in manage.text
    assert "Recovery codes left: <strong>10</strong>" in manage.text
    assert recovery_codes_on(manage) == []
    for code in enrolment.recovery_codes:
        assert code not in manage.text
    assert audit_tags()[-1] == "user:mfa:enrol"


def test_enrolment_rotates_the_session_and_records_the_second_factor(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    before = client.get_cookie(COOKIE_NAME)

    enrol(client)

    after = client.get_cookie(COOKIE_NAME)
    assert before is not None and after is not None and before.value != after.value
    assert has_session(client)


# --- signing in with the second factor -------------------------------------------------------


def test_a_correct_password_leads_to_the_challenge_not_to_a_session(
    client: FlaskClient, enrolled: Enrolment
) -> None:
    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD, next_path="/account/mfa")

    assert response.status_code == 303
    assert response.headers["Location"] == "/mfa?next=/account/mfa"
    assert client.get_cookie(COOKIE_NAME) is None
    pending = [h for h in response.headers.getlist("Set-Cookie") if PENDING_COOKIE_NAME in h]
    assert len(pending) == 1
    assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=300"} <= {
        part.strip() for part in pending[0].split(";")[1:]
    }
    assert DEFAULT_PASSWORD not in pending[0]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert '<label for="code">Authentication code</label>' in page.text
    assert re.search(r"<button[^>]*>Verify</button>", page.text)
    assert 'aria-describedby="code-hint"' in page.text
    assert_page_is_csp_ready(page.text)


def test_the_right_code_signs_in_and_continues_to_next(
    client: FlaskClient, enrolled: Enrolment
) -> None:
    started = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD, next_path="/account/mfa")

    done = answer_challenge(client, enrolled.authenticator.code(), started.headers["Location"])

    assert done.status_code == 303
    assert done.headers["Location"] == "/account/mfa"
    assert client.get_cookie(PENDING_COOKIE_NAME) is None
    assert has_session(client)
    # The second factor passed, then the sign-in as a whole (which resets lockout counters).
    assert audit_tags()[-2:] == ["user:mfa:verify", "user:login"]


def test_a_code_used_once_is_refused_the_next_time(
    client: FlaskClient, enrolled: Enrolment, clock: Clock
) -> None:
    code = enrolled.authenticator.code()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    answer_challenge(client, code)
    sign_out(client)

    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    replay = answer_challenge(client, code)

    assert replay.status_code == 401
    assert str(INVALID_CODE) in replay.text
    assert not has_session(client)
    clock.next_step()
    assert answer_challenge(client, enrolled.authenticator.code()).status_code == 303
    assert has_session(client)


def test_a_wrong_code_is_refused_and_recorded(client: FlaskClient, enrolled: Enrolment) -> None:
    right = enrolled.authenticator.code()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = answer_challenge(client, "000000" if right != "000000" else "000001")

    assert response.status_code == 401
    assert str(INVALID_CODE) in response.text
    code_field = re.search(r'<input[^>]*name="code"[^>]*>', response.text)
    assert code_field and 'value=""' in code_field.group(0)  # the code is not echoed back
    assert not has_session(client)
    # The MFA failure, the same failure counted by lockout (reason "mfa"), and the owner told
    # that the password was right (ASVS V6.3.5).
    assert audit_tags()[-3:] == [
        "user:mfa:failure",
        "user:login:failure",
        "user:login:partial-notice",
    ]


@pytest.mark.parametrize("typed", ["12345", "not a code", "ABCDE-FGHJ"])
def test_input_of_no_code_shape_is_explained_and_not_counted(
    client: FlaskClient, enrolled: Enrolment, typed: str
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = answer_challenge(client, typed)

    assert response.status_code == 400
    assert str(MALFORMED_CODE) in response.text
    assert "user:mfa:failure" not in audit_tags()


def test_a_recovery_code_signs_in_once(
    client: FlaskClient, enrolled: Enrolment, clock: Clock
) -> None:
    code = enrolled.recovery_codes[0]
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    signed_in = answer_challenge(client, code.lower())
    assert signed_in.status_code == 200  # the page that says how many are left
    assert "Signed in with a recovery code" in signed_in.text
    assert has_session(client)
    assert "user:mfa:recovery-code-used" in audit_tags()
    sign_out(client)

    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    again = answer_challenge(client, code)
    assert again.status_code == 401
    assert not has_session(client)
    assert "Recovery codes left: <strong>9</strong>" in _manage_page_after_signing_in(
        client, enrolled, clock
    )


def _manage_page_after_signing_in(client: FlaskClient, enrolled: Enrolment, clock: Clock) -> str:
    clock.next_step()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    answer_challenge(client, enrolled.authenticator.code())
    return client.get("/account/mfa").text


def test_a_stale_form_is_shown_again(client: FlaskClient, enrolled: Enrolment) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = client.post("/mfa", data={"code": enrolled.authenticator.code(), "next": "/"})

    assert response.status_code == 400
    assert str(EXPIRED_FORM) in response.text
    assert csrf_token(response.text)
    assert not has_session(client)


def test_a_stale_set_up_form_is_shown_again(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    authenticator, _ = read_setup_page(client.get("/account/mfa"))

    response = client.post("/account/mfa", data={"code": authenticator.code()})

    assert response.status_code == 400
    assert str(EXPIRED_FORM) in response.text
    assert read_setup_page(response)[0] == authenticator
    assert "user:mfa:enrol" not in audit_tags()


def test_with_secure_cookies_the_pending_cookie_is_host_prefixed(
    app: Flask, make_app: AppFactory, enrolled: Enrolment
) -> None:
    keys = app.extensions["authserver.settings"].encryption_keys  # to read the stored secret
    secure = make_app(secure_cookies=True, encryption_keys=keys).test_client()
    base = "https://localhost"

    response = sign_in(secure, DEFAULT_EMAIL, DEFAULT_PASSWORD, base_url=base)

    cookie = next(h for h in response.headers.getlist("Set-Cookie") if PENDING_COOKIE_NAME in h)
    assert cookie.startswith(f"__Host-{PENDING_COOKIE_NAME}=")
    assert "Secure" in cookie
    page = secure.get("/mfa", base_url=base)
    done = secure.post(
        "/mfa",
        base_url=base,
        headers={"Referer": f"{base}/mfa"},
        data={"csrf_token": csrf_token(page.text), "code": enrolled.authenticator.code()},
    )
    assert done.status_code == 303
    assert secure.get_cookie(SECURE_COOKIE_NAME, domain="localhost") is not None


# --- managing it -----------------------------------------------------------------------------


def signed_in_with_mfa(client: FlaskClient, enrolled: Enrolment, clock: Clock) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    answer_challenge(client, enrolled.authenticator.code())
    clock.next_step()


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(
    client: FlaskClient, enrolled: Enrolment, clock: Clock
) -> None:
    signed_in_with_mfa(client, enrolled, clock)
    page = client.get("/account/mfa")

    refused = post_code(client, "/account/mfa", page, "ABCDE-FGHJK", action="regenerate")
    assert refused.status_code == 401
    assert str(INVALID_CODE) in refused.text

    done = post_code(
        client, "/account/mfa", page, enrolled.authenticator.code(), action="regenerate"
    )
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    new_codes = recovery_codes_on(done)
    assert len(new_codes) == 10 and not set(new_codes) & set(enrolled.recovery_codes)
    assert "Your earlier recovery codes no longer work" in done.text


def test_removal_asks_for_a_code_and_then_sign_in_needs_the_password_only(
    client: FlaskClient, enrolled: Enrolment, clock: Clock
) -> None:
    signed_in_with_mfa(client, enrolled, clock)
    page = client.get("/account/mfa")

    refused = post_code(client, "/account/mfa", page, "", action="remove")
    assert refused.status_code == 400
    assert "Your authenticator app is set up" in client.get("/account/mfa").text

    removed = post_code(client, "/account/mfa", page, enrolled.recovery_codes[1], action="remove")
    assert removed.status_code == 200
    assert "Authenticator app removed" in removed.text
    assert audit_tags()[-1] == "user:mfa:remove"
    sign_out(client)
    assert sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).headers["Location"] == "/"
    assert has_session(client)


def test_an_unknown_action_changes_nothing(
    client: FlaskClient, enrolled: Enrolment, clock: Clock
) -> None:
    signed_in_with_mfa(client, enrolled, clock)
    page = client.get("/account/mfa")

    response = post_code(
        client, "/account/mfa", page, enrolled.authenticator.code(), action="disable"
    )

    assert response.status_code == 400
    assert "Your authenticator app is set up" in response.text


def test_wrong_codes_count_toward_lockout_and_a_password_cannot_reset_the_count(
    client: FlaskClient, enrolled: Enrolment
) -> None:
    """Five wrong second factors lock the account like five wrong passwords would, and
    re-entering the (correct) password in between does not restore the attempt budget."""
    right = enrolled.authenticator.code()
    wrong = "000000" if right != "000000" else "000001"
    wrong_codes = 0
    for _ in range(5):
        if sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code != 303:
            break
        assert answer_challenge(client, wrong).status_code == 401
        wrong_codes += 1

    locked = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    # The right password gives its own attempt back but restores none of the wrong codes';
    # only a second factor that passes resets the count: the budget runs out in round 5.
    assert wrong_codes == 5

    assert locked.status_code == 401, "the right password is refused while locked"
    assert "user:lockout" in audit_tags()
    assert not has_session(client)

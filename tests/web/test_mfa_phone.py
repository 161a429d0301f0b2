"""MFA on a phone (issue 15 item 6), through HTTP: the otpauth:// link and the key in groups,
the recovery codes' "I have saved them" step, and the page and mail after a recovery code."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email.message import Message
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.mailbox import has_subject, text_of
from tests.support.mfa import (
    CODES_SAVED_PATH,
    Clock,
    Enrolment,
    answer_challenge,
    confirm_codes_saved,
    enrol,
    frozen_clock,
    hidden_fields,
    post_code,
    read_setup_page,
    recovery_codes_on,
)
from tests.support.smtp import Inbox
from tests.support.web import csrf_token, sign_in, sign_out

RECOVERY_SUBJECT = "A recovery code was used to sign in to your account"


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


@pytest.fixture
def enrolled(browser: FlaskClient, clock: Clock) -> Enrolment:
    """Alice set up her app (through the mailing app), saved the codes and signed out."""
    sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(browser)
    assert confirm_codes_saved(browser, enrolment.page).status_code == 303
    sign_out(browser)
    clock.next_step()
    return enrolment


def recovery_mails(inbox: Inbox) -> list[Message]:
    return [m for m in inbox.messages if has_subject(m, RECOVERY_SUBJECT)]


# --- the set-up page -------------------------------------------------------------------------


def test_the_open_in_app_link_is_the_key_uri_with_issuer_and_secret(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    page = client.get("/account/mfa")

    authenticator, uri = read_setup_page(page)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    # Key URI Format: the label is "issuer:account", percent-encoded ("@" is %40).
    assert parts.path == "/localhost:alice%40example.org"
    assert unquote(parts.path) == f"/localhost:{DEFAULT_EMAIL}"
    assert parse_qs(parts.query, strict_parsing=True) == {
        "secret": [authenticator.secret],
        "issuer": ["localhost"],
    }
    # In the attribute the query's "&" is escaped, so the browser opens exactly that URI.
    assert f'href="{html.escape(uri, quote=True)}"' in page.text
    assert "&amp;issuer=" in page.text


def test_an_issuer_with_a_space_is_percent_encoded_in_the_link(
    app: Flask, make_app: AppFactory, clock: Clock
) -> None:
    client = make_app(totp_issuer="Example ID").test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    _, uri = read_setup_page(client.get("/account/mfa"))

    parts = urlsplit(uri)
    assert parts.path == "/Example%20ID:alice%40example.org"
    assert " " not in uri
    assert parse_qs(parts.query)["issuer"] == ["Example ID"]


def test_the_key_is_shown_in_groups_of_four_with_a_copy_button(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    page = client.get("/account/mfa")

    authenticator, _ = read_setup_page(page)
    groups = re.findall(r'<span class="key-group">([A-Z2-7]+)</span>', page.text)
    assert len(groups) == 8 and all(len(group) == 4 for group in groups)
    assert "".join(groups) == authenticator.secret
    # Hidden until the script finds a clipboard: without it the key is text to select.
    assert re.search(rf'<button type="button" class="secondary" data-copy="{groups[0]}', page.text)
    assert re.search(r'data-copy="[A-Z2-7]{32}"[^>]*\n?[^>]*hidden>Copy key</button>', page.text)
    assert '<script src="/static/mfa.js" defer></script>' in page.text
    assert "Open in authenticator app</a>" in page.text


def test_the_pages_script_is_served_from_our_own_origin(client: FlaskClient) -> None:
    with client.get("/static/mfa.js") as script:
        assert script.status_code == 200
        assert script.mimetype == "text/javascript"
        assert "navigator.clipboard.writeText" in script.text
        assert "new Blob(" in script.text


# --- the recovery codes and the "I have saved them" step ------------------------------------


def test_the_codes_page_offers_copy_download_and_a_required_saved_box(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    done = enrol(client, next_path="/account").page

    assert re.search(r'<button[^>]*data-copy-codes="recovery-codes"[^>]*hidden>', done.text, re.S)
    assert re.search(r'data-filename="recovery-codes.txt"', done.text)
    assert f"Recovery codes for {DEFAULT_EMAIL} at localhost. Each works once." in done.text
    assert re.search(r'<input id="saved" name="saved" required type="checkbox"', done.text)
    assert '<label for="saved">I have saved my recovery codes</label>' in done.text
    assert hidden_fields(done, CODES_SAVED_PATH)["next"] == "/account"
    # The link that went on without any confirmation is gone.
    assert ">Continue</a>" not in done.text


def test_continuing_without_ticking_the_box_shows_the_same_codes_again(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client, next_path="/account")

    refused = confirm_codes_saved(client, enrolment.page, saved=False)

    assert refused.status_code == 400
    assert refused.headers["Cache-Control"] == "no-store"
    assert recovery_codes_on(refused) == enrolment.recovery_codes
    assert (
        '<p class="error" role="alert" id="saved-error">Tick the box to confirm that you have '
        "saved your recovery codes, then continue.</p>"
    ) in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "<title>Error: Recovery codes" in refused.text
    assert "Authenticator app set up" in refused.text

    confirmed = confirm_codes_saved(client, refused)
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/account"


def test_a_ticked_box_goes_on_only_to_our_own_pages(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client, next_path="https://evil.example/")
    form = hidden_fields(enrolment.page, CODES_SAVED_PATH)
    assert form["next"] == "/account/mfa"

    answer = client.post(
        CODES_SAVED_PATH, data={**form, "saved": "y", "next": "https://evil.example/"}
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/mfa"


def test_codes_sealed_for_another_session_are_not_shown_to_this_one(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    other = app.test_client()
    sign_in(other, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    own_token = csrf_token(other.get("/account/mfa").text)
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client)
    # Only the sealed codes come from the first browser; the CSRF token is the other's own.
    form = {**hidden_fields(enrolment.page, CODES_SAVED_PATH), "csrf_token": own_token}

    answer = other.post(CODES_SAVED_PATH, data=form)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/mfa"
    page = other.get("/account/mfa").text
    assert "Those recovery codes can no longer be shown. They still work." in page
    assert enrolment.recovery_codes[0] not in page


def test_an_hour_later_the_codes_are_not_shown_again(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client)
    for _ in range(3):  # the session stays in use (it ends after 30 idle minutes)
        clock.advance(1200)
        assert client.get("/account").status_code == 200
    clock.advance(1)

    answer = confirm_codes_saved(client, enrolment.page, saved=False)

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/mfa"
    assert recovery_codes_on(client.get("/account/mfa")) == []


def test_new_codes_from_the_account_page_have_the_saved_step_too(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(client)
    manage = client.get("/account/mfa")

    renewed = post_code(
        client, "/account/mfa", manage, enrolment.recovery_codes[0], action="regenerate"
    )

    assert renewed.status_code == 200
    assert "New recovery codes" in renewed.text
    refused = confirm_codes_saved(client, renewed, saved=False)
    assert refused.status_code == 400
    assert "New recovery codes" in refused.text
    assert recovery_codes_on(refused) == recovery_codes_on(renewed)
    assert confirm_codes_saved(client, refused).status_code == 303


# --- after a recovery code -------------------------------------------------------------------


def test_a_recovery_code_sign_in_says_how_many_are_left_and_mails_the_owner(
    browser: FlaskClient, enrolled: Enrolment, inbox: Inbox
) -> None:
    sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    page = answer_challenge(browser, enrolled.recovery_codes[0], "/mfa?next=/account")

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "<h1>Signed in with a recovery code</h1>" in page.text
    assert "You have <strong>9</strong> recovery codes left." in page.text
    assert '<a class="button" href="/account">Continue</a>' in page.text
    assert recovery_mails(inbox) == []  # the mail goes once the response is written
    page.close()  # what the WSGI server does after the last byte
    assert browser.get("/account").status_code == 200  # signed in
    [mail] = recovery_mails(inbox)
    assert mail["To"] == DEFAULT_EMAIL
    body = text_of(mail)
    assert f"your localhost account {DEFAULT_EMAIL} on " in body
    assert "You have 9 recovery codes left." in body
    assert "http://localhost/account/mfa" in body
    assert enrolled.recovery_codes[0] not in body


def test_an_app_code_sign_in_goes_straight_on_without_mail(
    browser: FlaskClient, enrolled: Enrolment, inbox: Inbox
) -> None:
    sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    answer = answer_challenge(browser, enrolled.authenticator.code(), "/mfa?next=/account")
    answer.close()

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account"
    assert recovery_mails(inbox) == []


def test_the_last_recovery_code_says_what_to_do(
    browser: FlaskClient, enrolled: Enrolment, inbox: Inbox
) -> None:
    for code in enrolled.recovery_codes[:-1]:
        sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)
        used = answer_challenge(browser, code)
        assert used.status_code == 200
        used.close()
        sign_out(browser)
    sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    page = answer_challenge(browser, enrolled.recovery_codes[-1], "/mfa?next=/account")
    page.close()

    assert "You have no recovery codes left." in page.text
    assert "You have <strong>" not in page.text
    assert '<a class="button" href="/account/mfa?next=/account">Get new recovery codes</a>' in (
        page.text
    )
    assert '<a href="/account">Continue without new codes</a>' in page.text
    mails = recovery_mails(inbox)
    assert len(mails) == 10
    assert "You have 1 recovery code left." in text_of(mails[-2])
    assert "That was your last recovery code." in text_of(mails[-1])
    manage = browser.get("/account/mfa?next=/account")
    assert "Recovery codes left: <strong>0</strong>" in manage.text

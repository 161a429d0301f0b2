"""Forms that help (issue 15, item 4), read in the HTML the server sends.

Every problem of a form comes back at once, each under its field and tied to it
(``aria-describedby`` naming ids the page has, ``aria-invalid``), listed in a summary that
links to the fields, with "Error:" at the start of the title. New-password fields carry the
policy's minimum as ``minlength`` and follow a read-only username field holding the address,
for password managers. The policy's minimum is 16 here, not the default, so a number copied
into a template would show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.security.passwords import verify_password
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import signed_in_browser, submit, the_user
from tests.support.mailbox import link_in, smtp_app
from tests.support.smtp import Inbox
from tests.support.web import csrf_token
from tests.web.test_invitations import run_cli

MIN_LENGTH = 16
TOO_SHORT = f"Password must be at least {MIN_LENGTH} characters."
TOO_COMMON = "Password is too common: it appears in lists of passwords leaked in data breaches"
HOLDS_ADDRESS = "Password must not contain the part of the email address before the @."
MISMATCH = "The two new passwords are not the same."
# Short, on the breached list, and (for alice@example.org) holding the address' local part.
WEAK = "alice123"
GOOD = "a long phrase nobody else would pick"
INVITED = "grace@example.com"


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    form: int | None  # which <form> of the page holds it (their order), None: outside any


@dataclass
class Page:
    """What the checks read in a page: its title, its elements, and the text of each id."""

    title: str = ""
    elements: list[Element] = field(default_factory=list)

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)

    def inputs(self, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == "input" and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.forms = 0
        self.in_form: int | None = None
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.in_form, self.forms = self.forms, self.forms + 1
        self.in_title = tag == "title"
        named = {name: value if value is not None else "" for name, value in attrs}
        self.page.elements.append(Element(tag, named, self.in_form))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = None
        self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.page.title += data


def toggles_on(page: Page) -> list[Element]:
    """The "Show password" buttons (not their inner text, whose class begins the same)."""
    return [e for e in page.elements if "password-toggle" in e.attrs.get("class", "").split()]


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def problems_in_links(page: Page) -> list[str]:
    """What is wrong with how the page ties its errors to its fields ([]: nothing)."""
    found: list[str] = []
    invalid = [e for e in page.elements if e.attrs.get("aria-invalid") == "true"]
    if not invalid:
        found.append("no field has aria-invalid")
    for control in invalid:
        described = control.attrs.get("aria-describedby", "").split()
        errors = [page.by_id(i) for i in described if i.endswith("-error") or "-error-" in i]
        if not errors:
            found.append(f"{control.attrs.get('id')}: aria-describedby names no error")
        for element_id in described:
            if page.by_id(element_id) is None:
                found.append(f"{control.attrs.get('id')}: no element with id {element_id!r}")
    links = [e.attrs["href"][1:] for e in page.elements if e.attrs.get("href", "").startswith("#")]
    for target in links:
        if page.by_id(target) is None or page.by_id(target) not in invalid:
            found.append(f"the summary links to #{target}, which is not an invalid field")
    if not links:
        found.append("no summary links to the fields")
    if not page.title.startswith("Error: "):
        found.append(f"title {page.title!r} does not start with 'Error: '")
    return found


def summary_of(html: str) -> str:
    found = re.search(r'<div class="error-summary".*?</div>', html, re.DOTALL)
    assert found is not None, html
    return found.group(0)


@pytest.fixture
def site(app: Flask, make_app: AppFactory, inbox: Inbox) -> Flask:
    """Sign-up open, a minimum of 16 characters, mail to a real SMTP server."""
    opened = smtp_app(app, make_app, inbox, registration="open", password_min_length=MIN_LENGTH)
    with opened.app_context():
        make_user()
    return opened


def sign_up(client: FlaskClient, email: str, password: str) -> TestResponse:
    page = client.get("/signup")
    data = {"csrf_token": csrf_token(page.text), "email": email, "password": password}
    return client.post("/signup", data=data, buffered=True)


def invitation_path(site: Flask, inbox: Inbox) -> str:
    result = run_cli(site, "user", "invite", INVITED)
    assert result.exit_code == 0, result.output
    return urlsplit(link_in(inbox.messages[-1], "http://localhost/invitation/")).path


def reset_path(client: FlaskClient, inbox: Inbox) -> str:
    page = client.get("/reset")
    data = {"csrf_token": csrf_token(page.text), "email": DEFAULT_EMAIL}
    assert client.post("/reset", data=data, buffered=True).status_code == 200
    return urlsplit(link_in(inbox.messages[-1], "http://localhost/reset/")).path


def post_password(client: FlaskClient, path: str, password: str) -> TestResponse:
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.text), "password": password})


def change_password(client: FlaskClient, new: str, repeat: str) -> TestResponse:
    data = {"current_password": DEFAULT_PASSWORD, "new_password": new, "confirm_password": repeat}
    return submit(client, "/account/password", data)


# --- every problem at once ------------------------------------------------------------------------


def test_the_account_form_shows_every_problem_of_the_new_password_and_the_mismatch(
    site: Flask,
) -> None:
    client = signed_in_browser(site)
    before = the_user().password_hash

    answer = change_password(client, WEAK, "something else")

    assert answer.status_code == 400
    summary = summary_of(answer.text)
    for message in (TOO_SHORT, HOLDS_ADDRESS, TOO_COMMON, MISMATCH):
        assert message in summary
    assert problems_in_links(read(answer.text)) == []
    assert the_user().password_hash == before
    assert verify_password(the_user().password_hash, DEFAULT_PASSWORD)


def test_sign_up_shows_the_address_and_every_password_problem_at_once(
    site: Flask, inbox: Inbox
) -> None:
    answer = sign_up(site.test_client(), "not-an-address", "password")

    assert answer.status_code == 400
    summary = summary_of(answer.text)
    assert "Email address must look like name@example.org." in summary
    assert TOO_SHORT in summary
    assert TOO_COMMON in summary
    page = read(answer.text)
    assert problems_in_links(page) == []
    [email] = page.inputs(id="email")
    [password] = page.inputs(id="password")
    assert email.attrs["aria-describedby"] == "email-error"
    assert password.attrs["aria-describedby"] == "password-error password-error-2 password-hint"
    assert inbox.messages == []


@pytest.mark.parametrize("link", ["reset", "invitation"])
def test_the_emailed_link_pages_show_every_rule_the_password_breaks(
    site: Flask, inbox: Inbox, link: str
) -> None:
    client = site.test_client()
    path = reset_path(client, inbox) if link == "reset" else invitation_path(site, inbox)

    answer = post_password(client, path, "password")

    assert answer.status_code == 400
    assert TOO_SHORT in summary_of(answer.text)
    assert TOO_COMMON in summary_of(answer.text)
    assert problems_in_links(read(answer.text)) == []
    # The link still works: the form comes back, not the "cannot be used" page.
    assert post_password(client, path, GOOD).status_code == 303


def test_a_refused_sign_in_is_one_message_in_the_title_and_on_the_page(site: Flask) -> None:
    client = site.test_client()
    page = client.get("/login")
    data = {"csrf_token": csrf_token(page.text), "email": DEFAULT_EMAIL, "password": "wrong"}

    answer = client.post("/login", data=data)

    assert answer.status_code == 401
    assert read(answer.text).title == "Error: Sign in \u2013 localhost"
    assert '<p class="error" role="alert">The email address or password is incorrect' in answer.text
    assert 'aria-invalid="true"' not in answer.text  # it says nothing about which field


def test_a_refused_code_is_tied_to_the_code_field(site: Flask) -> None:
    client = site.test_client()
    page = client.get("/device")

    answer = client.post("/device", data={"csrf_token": csrf_token(page.text), "user_code": "QQ"})

    assert answer.status_code == 400
    page_read = read(answer.text)
    assert problems_in_links(page_read) == []
    [code] = page_read.inputs(id="user_code")
    assert code.attrs["aria-describedby"] == "user_code-error user_code-hint"


# --- fresh forms ----------------------------------------------------------------------------------


def new_password_pages(site: Flask, inbox: Inbox) -> dict[str, tuple[Page, str]]:
    """Each page with a new-password form, and the address its username field must hold."""
    stranger = site.test_client()
    signed_in = signed_in_browser(site)
    return {
        "sign-up": (read(stranger.get("/signup").text), ""),
        "reset": (read(stranger.get(reset_path(stranger, inbox)).text), DEFAULT_EMAIL),
        "invitation": (read(stranger.get(invitation_path(site, inbox)).text), INVITED),
        "account": (read(signed_in.get("/account").text), DEFAULT_EMAIL),
    }


def test_every_new_password_field_follows_a_username_field_and_carries_the_minimum(
    site: Flask, inbox: Inbox
) -> None:
    for name, (page, email) in new_password_pages(site, inbox).items():
        new_passwords = page.inputs(autocomplete="new-password")
        assert new_passwords, name
        for password in new_passwords:
            assert password.attrs["type"] == "password", name
            assert password.attrs["minlength"] == str(MIN_LENGTH), name
            # In the same form and before it: where password managers look for the account.
            index = page.elements.index(password)
            usernames = [
                e
                for e in page.elements[:index]
                if e.tag == "input"
                and e.attrs.get("autocomplete") == "username"
                and e.form == password.form
            ]
            assert len(usernames) == 1, name
            [username] = usernames
            assert username.attrs["type"] == "email", name  # never type=hidden
            assert page.by_id(username.attrs["id"]) is username
            if email:
                assert username.attrs["value"] == email, name
                assert "readonly" in username.attrs, name
        assert not page.title.startswith("Error"), name
        assert page.inputs(**{"aria-invalid": "true"}) == [], name
        assert len([e for e in page.elements if "autofocus" in e.attrs]) <= 1, name


def test_current_passwords_carry_no_minimum(site: Flask) -> None:
    client = signed_in_browser(site)
    for path in ("/login", "/account", "/account/delete"):
        page = read(client.get(path).text)
        [current] = page.inputs(autocomplete="current-password")
        assert "minlength" not in current.attrs, path


def test_every_password_field_has_a_show_password_button_for_its_script(site: Flask) -> None:
    client = signed_in_browser(site)
    for path in ("/login", "/account", "/account/delete"):
        html = client.get(path).text
        page = read(html)
        buttons = toggles_on(page)
        assert [b.attrs["aria-controls"] for b in buttons] == [
            e.attrs["id"] for e in page.inputs(type="password")
        ], path
        for button in buttons:
            assert button.tag == "button"
            assert button.attrs["type"] == "button"
            assert button.attrs["aria-pressed"] == "false"
            # Hidden until the script makes it work: without JavaScript there is no dead button.
            assert "hidden" in button.attrs
        assert '<script src="/static/password_toggle.js" defer></script>' in html
    script = client.get("/static/password_toggle.js", buffered=True)  # closes the file
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"


def test_each_show_password_button_names_its_field(site: Flask) -> None:
    """The account page's three buttons, told apart by a screen reader: each name (its text,
    part of it for screen readers only) begins with the visible text (WCAG 2.2 SC 2.5.3, Label
    in Name) and ends with its field's label; the script changes only the visible words."""
    html = signed_in_browser(site).get("/account").text
    page = read(html)
    buttons = toggles_on(page)
    fields = ["Current password", "New password", "Repeat new password"]
    names = [
        re.sub(r"<[^>]+>", "", text)
        for text in re.findall(
            r'<button[^>]*class="secondary password-toggle"[^>]*>(.*?)</button>', html, re.S
        )
    ]
    assert names == [f"Show password ({f})" for f in fields]
    assert html.count('<span class="password-toggle-text">Show password</span>') == 3
    assert ["aria-label" in b.attrs for b in buttons] == [False] * 3  # not a second "label"
    assert [page.by_id(b.attrs["aria-controls"]) is not None for b in buttons] == [True] * 3

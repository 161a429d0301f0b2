"""A person's journeys through the pages, for the scenarios that check them one at a time:
sign in (password, then the second factor), set up an authenticator, consent, the account page.

Each returns the last response (or a callback URL) so the scenario can say what went wrong;
none asserts, so a scenario gathers every problem before it fails.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode, urlsplit

import pyotp
import requests

from tests.faults.deployment import PASSWORD, REDIRECT_URI, SCOPE
from tests.support.live_browser import Browser, forms_of
from tests.support.mfa import key_on


def sign_in(browser: Browser, email: str, next_path: str = "/") -> requests.Response:
    page = browser.open(f"{_base(browser)}/login?" + urlencode({"next": next_path}))
    if not _has_form(page, "email", "password"):
        return page
    return browser.submit(page, email=email, password=PASSWORD)


def enrol_authenticator(browser: Browser) -> pyotp.TOTP | None:
    """Set up an authenticator app on the signed-in account; None when the page refused."""
    setup = browser.open(f"{_base(browser)}/account/mfa")
    found = key_on(setup.text)
    if found is None or not _has_form(setup, "code"):
        return None
    totp = pyotp.TOTP(found)
    done = browser.submit(setup, code=totp.now())
    return totp if done.status_code == 200 else None


def second_factor(browser: Browser, challenge: requests.Response, totp: pyotp.TOTP
                  ) -> requests.Response:  # fmt: skip
    """Answer the challenge with the code of the next step: never used yet, and accepted."""
    if urlsplit(challenge.url).path != "/mfa" or not _has_form(challenge, "code"):
        return challenge
    return browser.submit(challenge, code=totp.at(time.time() + 30))


def account_page(browser: Browser) -> requests.Response:
    """The account page; a browser that is not signed in is sent to the sign-in page."""
    return browser.open(f"{_base(browser)}/account")


def is_signed_in(browser: Browser) -> bool:
    page = account_page(browser)
    return page.status_code == 200 and urlsplit(page.url).path == "/account"


def consent_to(browser: Browser, client_id: str) -> requests.Response:
    """A signed-in person authorizes a client it never used: the consent page, then Allow.
    The answer is the redirect to the client with a code (302) when all went well."""
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
        "scope": SCOPE, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }  # fmt: skip
    page = browser.open(f"{_base(browser)}/oauth/authorize?" + urlencode(params))
    if not _has_form(page, button="decision"):
        return page  # not the consent page: the sign-in page, or an error
    return browser.submit(page, press=("decision", "allow"))


def _has_form(page: requests.Response, *fields: str, button: str | None = None) -> bool:
    """Whether the page has exactly one form with these fields (and button); other small forms
    may stand beside it (the consent page's "Not you?")."""
    forms = forms_of(page.text) if page.status_code == 200 else []
    matching = [
        form
        for form in forms
        if set(fields) <= set(form.fields) and (button is None or button in form.buttons)
    ]
    return len(matching) == 1


def _base(browser: Browser) -> str:
    scheme, netloc = browser.origin
    return f"{scheme}://{netloc}"

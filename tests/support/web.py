"""Drive the HTML pages the way a browser does: read the form, send it back."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

_CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(
    client: FlaskClient,
    email: str,
    password: str,
    *,
    next_path: str | None = None,
    base_url: str = "http://localhost",
) -> TestResponse:
    """GET the sign-in page, then POST its form with these credentials."""
    page = client.get("/login", base_url=base_url)
    form = {"csrf_token": csrf_token(page.text), "email": email, "password": password}
    if next_path is not None:
        form["next"] = next_path
    # Over https, Flask-WTF also requires a same-origin Referer (WTF_CSRF_SSL_STRICT).
    return client.post(
        "/login", data=form, base_url=base_url, headers={"Referer": f"{base_url}/login"}
    )


def sign_out(client: FlaskClient) -> TestResponse:
    home = client.get("/")
    return client.post("/logout", data={"csrf_token": csrf_token(home.text)})

"""A person's browser for live-server tests: cookies, HTML forms, and redirects on the server.

It follows redirects only while they stay on the server it was made for; a redirect anywhere else
(a relying party's callback) is returned as is, so that URL is never requested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import pytest
import requests

MAX_REDIRECTS = 10


@dataclass
class Form:
    action: str
    method: str
    # Named inputs with their values (HTMLParser has already unescaped them).
    fields: dict[str, str] = field(default_factory=dict)
    # Named submit buttons: name -> the values of the buttons with that name.
    buttons: dict[str, list[str]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(named.get("action", ""), named.get("method", "get").lower()))
        elif self.forms and "name" in named:
            form = self.forms[-1]
            if tag == "button" or named.get("type") == "submit":
                form.buttons.setdefault(named["name"], []).append(named.get("value", ""))
            elif tag == "input":
                form.fields[named["name"]] = named.get("value", "")


# Every page carries the language switcher's form once a second language ships; it is never the
# form a step of a flow fills in.
LANGUAGE_SWITCHER = "/language"


def forms_of(html: str) -> list[Form]:
    """The page's forms, but for the language switcher."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return [form for form in parser.forms if urlsplit(form.action).path != LANGUAGE_SWITCHER]


def only_form(page: requests.Response) -> Form:
    forms = forms_of(page.text)
    assert len(forms) == 1, f"expected one form on {page.url}, found {len(forms)}:\n{page.text}"
    return forms[0]


def form_for(
    page: requests.Response, *, press: tuple[str, str] | None = None, fields: set[str] = frozenset()
) -> Form:
    """The one form on the page with the button `press` (name, value), or else with all of
    `fields`: a page may hold a second, small form (the consent page's "Not you?")."""
    forms = forms_of(page.text)
    if press is not None:
        name, value = press
        matching = [form for form in forms if value in form.buttons.get(name, [])]
    else:
        matching = [form for form in forms if fields <= set(form.fields)]
    assert len(matching) == 1, f"expected one such form on {page.url}, found {len(matching)}"
    return matching[0]


class Browser:
    """A requests.Session standing in for the user's browser on one server."""

    def __init__(self, server_url: str, *, timeout: float) -> None:
        self.origin = _origin(server_url)
        self.timeout = timeout
        self.http = requests.Session()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.http.close()

    def open(self, url: str) -> requests.Response:
        """GET `url` and follow redirects on the server; stop at one that leaves it."""
        return self._follow(self.http.get(url, allow_redirects=False, timeout=self.timeout))

    def submit(
        self,
        page: requests.Response,
        *,
        press: tuple[str, str] | None = None,
        **values: str,
    ) -> requests.Response:
        """Fill in the page's form with `values`, press a named button, and follow the result."""
        form = form_for(page, press=press, fields=set(values))
        assert form.method == "post", form
        unknown = set(values) - set(form.fields)
        assert not unknown, f"the form has no fields {sorted(unknown)}: {form}"
        data = {**form.fields, **values}
        if press is not None:
            name, value = press
            assert value in form.buttons.get(name, []), f"no button {name}={value}: {form}"
            data[name] = value
        response = self.http.post(
            urljoin(page.url, form.action), data=data, allow_redirects=False, timeout=self.timeout
        )
        return self._follow(response)

    def _follow(self, response: requests.Response) -> requests.Response:
        for _ in range(MAX_REDIRECTS):
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["Location"])
            if _origin(target) != self.origin:
                return response
            response = self.http.get(target, allow_redirects=False, timeout=self.timeout)
        pytest.fail(f"more than {MAX_REDIRECTS} redirects, the last to {response.url}")


def redirect_target(response: requests.Response) -> str:
    """Where a redirect response sends the browser (absolute)."""
    assert response.status_code in (302, 303), f"{response.status_code}: {response.text}"
    return urljoin(response.url, response.headers["Location"])


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

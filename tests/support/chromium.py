"""A real browser for the page tests: Debian's headless Chromium, driven by Playwright.

Playwright never downloads a browser here: `make test` installs Debian's `chromium` package and
the tests start that binary. Without it they fail, saying how to install it, because a skipped
browser test would let a run go green without one page ever having been rendered.

`WatchedPage` is a tab that keeps the test honest about what a person would see:

    tab = WatchedPage(context.new_page(), folder)
    tab.page.goto(server.url("/login"))
    tab.arrive("/login", "Sign in")              # waits, screenshots, checks the page

Every page it arrives at is screenshotted (`folder/NN-name.png`) and checked: no console error,
no uncaught exception, no Content-Security-Policy violation, nothing that tests/support/
page_checks.py finds. Anything found fails the test with the list and the screenshot folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.page_checks import ACCESSIBILITY_PROBLEMS, inline_code_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Generous for a loaded two-core machine; every wait still ends on its own condition first.
TIMEOUT_MS = 20_000

# Records every CSP violation on `window`, where `arrive` reads them. Added as an init script, so
# it runs before any of the page's own content, and through the DevTools protocol, so the page's
# CSP (which must never be bypassed in these tests) does not stop it.
RECORD_CSP_VIOLATIONS = """
(() => {
  const seen = [];
  Object.defineProperty(window, "__cspViolations", { value: seen });
  document.addEventListener("securitypolicyviolation", (event) => {
    seen.push(`${event.disposition} ${event.effectiveDirective}: blocked ${event.blockedURI}` +
      ` at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
  }, true);
})();
"""

CSP_MESSAGE = re.compile(r"Content[- ]Security[- ]Policy", re.IGNORECASE)
FAILED_LOAD = "console error: Failed to load resource: the server responded with a status of "


def chromium_executable() -> str:
    """The system Chromium, or a failure that says how to get it (never a skip)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package. "
            "`make test` installs it; by hand: apt-get update && apt-get install -y chromium",
            pytrace=False,
        )
    return CHROMIUM


def slug(text: str) -> str:
    """A file-name-safe form of a test or page name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@dataclass(frozen=True)
class Problem:
    url: str
    text: str

    def __str__(self) -> str:
        return f"{self.url}: {self.text}"


@dataclass
class WatchedPage:
    """A Playwright page whose every visited page is screenshotted and checked."""

    page: Page
    folder: Path
    problems: list[Problem] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    # The response that brought the page shown now (after any redirects).
    document: Response | None = None
    # Pages the test expected to come with an error status, e.g. a refused sign-in (401).
    error_pages: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.add_init_script(RECORD_CSP_VIOLATIONS)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)
        self.page.on("response", self._on_response)

    def arrive(
        self,
        path: str,
        heading: str,
        *,
        origin: str | None = None,
        status: int = 200,
        name: str | None = None,
        timeout_ms: float = TIMEOUT_MS,
    ) -> None:
        """Wait for the page at `path` showing the main heading `heading`, then check it.

        The heading tells a new page from the one before when a form posts back to its own
        URL. `origin` is the expected scheme://host:port when it is not the current one;
        `status` the HTTP status the page came with; `name` names the screenshot (default:
        the heading); `timeout_ms` bounds the wait.
        """
        expected_origin = origin or _origin(self.page.url)
        try:
            self.page.wait_for_url(_at(expected_origin, path), timeout=timeout_ms)
            expect(self.page.get_by_role("heading", level=1, name=heading)).to_be_visible(
                timeout=timeout_ms
            )
            self.page.wait_for_load_state("load")
        except (AssertionError, PlaywrightTimeout) as exc:
            self.screenshot("unexpected")
            # What the browser reported often says why (a CSP that blocked the form, say).
            reported = "".join(f"\n  {problem}" for problem in self.problems)
            self.fail(
                f"expected {heading!r} at {expected_origin}{path}, "
                f"the browser is at {self.page.url}: {exc}\nthe browser reported:{reported}"
            )
        self.screenshot(name or heading)
        found: list[str] = self.page.evaluate(ACCESSIBILITY_PROBLEMS)
        found.extend(self._csp_violations_recorded_by_the_page())
        if self.document is None:
            found.append("no response brought this page")
        else:
            found.extend(inline_code_in(self.document.text()))
            if self.document.status != status:
                found.append(f"HTTP status {self.document.status}, expected {status}")
            elif status >= 400:
                self.error_pages.add((self.document.url, status))
        self.problems.extend(Problem(self.page.url, text) for text in found)
        self.assert_clean()

    def screenshot(self, name: str) -> Path:
        path = self.folder / f"{len(self.screenshots) + 1:02d}-{slug(name).lower()}.png"
        self.page.screenshot(path=path, full_page=True)
        self.screenshots.append(path)
        return path

    def assert_clean(self) -> None:
        unexpected = [str(problem) for problem in self.problems if not self._expected(problem)]
        if unexpected:
            self.fail("the browser reported problems:\n  " + "\n  ".join(unexpected))

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\nscreenshots: {self.folder}", pytrace=False)

    def _expected(self, problem: Problem) -> bool:
        """Chromium logs an error status of the page itself as a failed load; the test that
        declared that status (`arrive(..., status=401)`) has already checked it."""
        return any(
            problem.url == url and problem.text.startswith(f"{FAILED_LOAD}{status} (")
            for url, status in self.error_pages
        )

    def _csp_violations_recorded_by_the_page(self) -> list[str]:
        recorded: list[str] = self.page.evaluate("() => window.__cspViolations ?? []")
        return [f"CSP violation: {violation}" for violation in recorded]

    def _on_console(self, message: ConsoleMessage) -> None:
        # Chromium reports a violation (enforced or report-only) as a console message too; that
        # one survives a navigation that ends the page before `arrive` could read `window`.
        if message.type == "error" or CSP_MESSAGE.search(message.text):
            where = message.location.get("url") or self.page.url
            self.problems.append(Problem(where, f"console {message.type}: {message.text}"))

    def _on_response(self, response: Response) -> None:
        request = response.request
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self.document = response

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(Problem(self.page.url, f"uncaught exception: {error.message}"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _at(origin: str, path: str) -> Callable[[str], bool]:
    def matches(url: str) -> bool:
        return _origin(url) == origin and urlsplit(url).path == path

    return matches

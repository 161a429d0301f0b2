"""The realistic mix of requests a deployment serves, as one load thread sends it.

Each `Visitor` is one thread's worth of clients: a service getting client-credentials tokens and
introspecting them, a relying party refreshing its tokens (one refresh-token family, rotated on
every use), a verifier fetching JWKS and discovery, a person loading the sign-in page and signing
in with a password then opening the account page, and an orchestrator probing /readyz. Every
request goes through the recorder; what a visitor keeps (its refresh tokens, in order) lets a
scenario check afterwards that no token was lost or left live twice.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from tests.faults.recorder import Need, Recorder, Surface
from tests.support.live_browser import form_for, forms_of

PACING_SECONDS = 0.05


@dataclass(frozen=True)
class Credentials:
    """What the deployment's set-up made with the CLI, for the visitors to use."""

    api_client_id: str  # confidential, client_credentials: gets tokens, introspects them
    api_client_secret: str
    app_client_id: str  # confidential, authorization code + refresh tokens
    app_client_secret: str
    email: str
    password: str
    redirect_uri: str
    scope: str
    api_scope: str


def basic(client_id: str, secret: str) -> tuple[str, str]:
    return (client_id, secret)


@dataclass
class Visitor:
    base_url: str
    credentials: Credentials
    recorder: Recorder
    # Every refresh token this visitor was given, oldest first: only the last may be live.
    refresh_tokens: list[str] = field(default_factory=list)
    # Refresh tokens refused although this visitor never used them (a token lost to a fault).
    lost_refresh_tokens: list[str] = field(default_factory=list)
    access_token: str | None = None
    person: requests.Session | None = None
    verifier: str = ""  # the PKCE verifier of the code being obtained
    turn: int = 0

    def url(self, path: str) -> str:
        return self.base_url + path

    def run(self, stopping: threading.Event) -> None:
        """Send the mix over and over until `stopping` is set."""
        actions: list[Callable[[], None]] = [
            self.client_credentials,
            self.introspect,
            self.jwks,
            self.refresh,
            self.discovery,
            self.sign_in,
            self.readiness,
            self.account_page,
        ]
        while not stopping.is_set():
            actions[self.turn % len(actions)]()
            self.turn += 1
            stopping.wait(PACING_SECONDS)

    # --- the machine surface ----------------------------------------------------------------

    def client_credentials(self) -> None:
        with requests.Session() as http:
            response = self.recorder.send(
                http, "token (client credentials)", "POST", self.url("/oauth/token"),
                data={"grant_type": "client_credentials", "scope": self.credentials.api_scope},
                auth=basic(self.credentials.api_client_id, self.credentials.api_client_secret),
            )  # fmt: skip
        if response is not None and response.status_code == 200:
            self.access_token = response.json()["access_token"]

    def introspect(self) -> None:
        if self.access_token is None:
            return
        with requests.Session() as http:
            self.recorder.send(
                http, "introspection", "POST", self.url("/oauth/introspect"),
                data={"token": self.access_token, "token_type_hint": "access_token"},
                auth=basic(self.credentials.api_client_id, self.credentials.api_client_secret),
            )  # fmt: skip

    def refresh(self) -> None:
        if not self.refresh_tokens:
            self.start_family()
            return
        presented = self.refresh_tokens[-1]
        response = self.refresh_answer(presented)
        if response is None:
            return  # no answer: the same token is presented again next time
        if response.status_code == 200:
            self.refresh_tokens.append(response.json()["refresh_token"])
        elif response.status_code == 400:
            # Refused although this visitor holds no newer token: rotated by a request whose
            # answer never came back, or revoked. Either way the client has lost its grant.
            self.lost_refresh_tokens.append(presented)
            self.refresh_tokens.clear()

    def refresh_answer(self, refresh_token: str) -> requests.Response | None:
        with requests.Session() as http:
            return self.recorder.send(
                http, "token (refresh)", "POST", self.url("/oauth/token"),
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=basic(self.credentials.app_client_id, self.credentials.app_client_secret),
            )  # fmt: skip

    def jwks(self) -> None:
        with requests.Session() as http:
            self.recorder.send(
                http, "jwks", "GET", self.url("/.well-known/jwks.json"),
                need=Need.MEMORY, surface=Surface.PROTOCOL,
            )  # fmt: skip

    def discovery(self) -> None:
        with requests.Session() as http:
            self.recorder.send(
                http, "discovery", "GET", self.url("/.well-known/openid-configuration"),
                need=Need.MEMORY, surface=Surface.PROTOCOL,
            )  # fmt: skip

    def readiness(self) -> None:
        with requests.Session() as http:
            self.recorder.send(http, "readyz", "GET", self.url("/readyz"), surface=Surface.PROBE)

    # --- the people surface -----------------------------------------------------------------

    def sign_in(self) -> None:
        """The sign-in page, then its form with the password: a new browser each time."""
        if self.person is not None:
            self.person.close()
        self.person = requests.Session()
        self.sign_in_with(self.person)

    def sign_in_with(self, browser: requests.Session, next_path: str = "/") -> bool:
        """True when the browser ends up signed in (the form's answer redirects)."""
        page = self.recorder.send(
            browser, "sign-in page", "GET", self.url("/login?" + urlencode({"next": next_path})),
            surface=Surface.PAGE,
        )  # fmt: skip
        if page is None or page.status_code != 200:
            return False
        fields = forms_of(page.text)[0].fields
        fields.update(email=self.credentials.email, password=self.credentials.password)
        answer = self.recorder.send(
            browser, "sign-in (password)", "POST", self.url("/login"), data=fields,
            surface=Surface.PAGE,
        )  # fmt: skip
        return answer is not None and answer.status_code in (302, 303)

    def account_page(self) -> None:
        if self.person is None:
            return
        self.recorder.send(
            self.person, "account page", "GET", self.url("/account"), surface=Surface.PAGE
        )

    # --- a new refresh-token family: the authorization code flow ---------------------------

    def start_family(self) -> bool:
        """Sign in, authorize, consent, redeem the code: a first refresh token."""
        with requests.Session() as browser:
            code = self.authorization_code(browser)
        if code is None:
            return False
        token = self.redeem(code)
        if token is None:
            return False
        self.refresh_tokens.append(token["refresh_token"])
        return True

    def authorization_code(self, browser: requests.Session) -> str | None:
        """A fresh code from the authorization endpoint (signing in and consenting as asked)."""
        if not self.sign_in_with(browser):
            return None
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code",
            "client_id": self.credentials.app_client_id,
            "redirect_uri": self.credentials.redirect_uri,
            "scope": self.credentials.scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        self.verifier = verifier
        answer = self.recorder.send(
            browser, "authorize", "GET", self.url("/oauth/authorize?" + urlencode(params)),
            surface=Surface.PAGE,
        )  # fmt: skip
        if answer is not None and answer.status_code == 200:
            answer = self.consent(browser, answer)
        if answer is None or answer.status_code != 302:
            return None
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        return query["code"][0] if "code" in query else None

    def consent(
        self, browser: requests.Session, page: requests.Response
    ) -> requests.Response | None:
        # The form with Allow: the page also holds "Not you?" (a sign-out form).
        form = form_for(page, press=("decision", "allow"))
        return self.recorder.send(
            browser, "consent", "POST", urljoin(page.url, form.action),
            data={**form.fields, "decision": "allow"}, surface=Surface.PAGE,
        )  # fmt: skip

    def redeem(self, code: str) -> dict[str, str] | None:
        response = self.redeem_answer(code)
        if response is None or response.status_code != 200:
            return None
        token: dict[str, str] = response.json()
        return token

    def redeem_answer(self, code: str) -> requests.Response | None:
        """The token endpoint's answer to this code (the visitor's PKCE verifier)."""
        with requests.Session() as http:
            return self.recorder.send(
                http, "token (code)", "POST", self.url("/oauth/token"),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.credentials.redirect_uri,
                    "code_verifier": self.verifier,
                },
                auth=basic(self.credentials.app_client_id, self.credentials.app_client_secret),
            )  # fmt: skip


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")

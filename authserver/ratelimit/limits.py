"""Rate limits (moving windows, in Flask-Limiter's notation) on the endpoints people and
programs guess at.

Each group has one limit string in the settings and decorators to apply it::

    @bp.post("/login")
    @limit_signin                      # AUTHSERVER_RATELIMIT_SIGNIN, per IP and per account
    def login_submit(): ...

    @limit_reauthentication(account=signed_in_email)   # the same windows, signed-in forms

    @limit_mfa(account=pending_subject)   # AUTHSERVER_RATELIMIT_MFA; account: () -> str | None
    @limit_reset()                         # AUTHSERVER_RATELIMIT_RESET; account: the form's email
    @limit_signup                          # AUTHSERVER_RATELIMIT_SIGNUP; account: the form's email
    @limit_token                           # AUTHSERVER_RATELIMIT_TOKEN, per client
    @limit_user_code                       # AUTHSERVER_RATELIMIT_USER_CODE, wrong codes per IP
    @limit_csp_report                      # AUTHSERVER_RATELIMIT_CSP_REPORT, per IP

Only POST requests count. Over a limit, :class:`~authserver.security.errors.RateLimited` (a
429) is raised before the view runs, carrying the seconds until the broken limit admits a
request again; web/errors.py answers it with ``Retry-After`` and a page or, on protocol
endpoints, an RFC 6749-shaped JSON error. A blueprint may answer it its own way (the sign-in
page shows its usual generic failure, so a limit says nothing about which accounts exist).

Counters live in Redis when AUTHSERVER_REDIS_URL is set (shared by every instance), else in the
process's memory (ratelimit/windows.py counts). If Redis stops answering, counting goes on
in memory with the same limits per process until Redis is back (shared again within about 2 s
of it answering): logged once each way (one WARNING, one INFO), counted in
:attr:`RateLimits.storage_fallbacks` and the ``authserver_rate_limit_storage_fallbacks``
metric, never a 500. Lockout does not depend on any of this: it lives in the database. Every
429 is counted in the ``authserver_rate_limited_requests`` metric by group.

Every app gets its own :class:`RateLimits` (its counters are per app), so the decorators only
mark views; the app's limits are looked up when a marked view is called.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from limits import RateLimitItem, parse_many
from sqlalchemy.exc import SQLAlchemyError

from authserver.accounts.email_addresses import normalise_email
from authserver.accounts.lifecycle import find_user_by_email
from authserver.config import Settings, app_settings
from authserver.extensions import REDIS_TIMEOUT_SECONDS, discard_failed_transaction
from authserver.models.types import utcnow
from authserver.observability.metrics import count_limiter_fallback, count_rate_limited
from authserver.ratelimit.windows import LocalWindows, SharedWindows
from authserver.security.devices import find_device, remembered_devices
from authserver.security.errors import RateLimited

log = logging.getLogger(__name__)

EXTENSION = "authserver.rate_limits"
GROUPS = ("signin", "mfa", "reset", "signup", "token", "user_code", "csp_report")
MAX_PLAIN_KEY_LENGTH = 128  # our client ids are 24 characters

View = TypeVar("View", bound=Callable[..., Any])
AccountKey = Callable[[], "str | None"]


@dataclass(frozen=True)
class _Counter:
    """One way of counting a group's requests: per IP, per account or per client."""

    dimension: str  # "ip", "account", "client", "client-auth-failure"
    key: Callable[[], str]
    exempt_when: Callable[[], bool] | None = None
    # Counted after the response, and only when this says so; checked (not counted) before.
    deduct_when: Callable[[Response], bool] | None = None


_PENDING = "authserver_rate_limit_pending"  # flask.g: deductions that wait for the response


class RateLimits:
    """The app's limits, the windows that count them, and how often storage has failed.

    Each marked view is checked when it is called, as Flask-Limiter's decorators did (and with
    their semantics: POST only, first breach refuses, deduct_when counters are checked before
    and counted after the response), without its per-request limit resolution.
    """

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.enabled = settings.ratelimit_enabled
        self.limit_strings = {group: getattr(settings, f"ratelimit_{group}") for group in GROUPS}
        # Settings built in code skip the parser, so parsing here also fails at start-up.
        self.items = {group: parse_many(value) for group, value in self.limit_strings.items()}
        self._app = app  # the fallback metric may be counted from the probe's thread
        self.windows: LocalWindows | SharedWindows = _windows(settings, self._storage_changed)
        self.storage_fallbacks = 0  # times this process fell back to memory
        app.after_request(self._deduct)

    @property
    def is_degraded(self) -> bool:
        """True while Redis is unreachable and limits are counted in this process only."""
        return isinstance(self.windows, SharedWindows) and self.windows.is_degraded

    def redis_answers(self) -> bool | None:
        """For /readyz: None without Redis, else whether it answered last. Never waits for it.

        A background probe is started when one is due, so a Redis that went away while no
        limited request came is reported about a second later.
        """
        if not isinstance(self.windows, SharedWindows):
            return None
        self.windows.refresh()
        return not self.windows.is_degraded

    def call(
        self,
        view: Callable[..., Any],
        group: str,
        counters: tuple[_Counter, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # Any: whatever the view returns
        if self.enabled and request.method == "POST":
            self._check(group, counters)
        return view(*args, **kwargs)

    def _check(self, group: str, counters: tuple[_Counter, ...]) -> None:
        """Check (or count) every applicable limit; raise RateLimited at the first breach."""
        checks = [
            (item, counter, (counter.key(), f"{group}:{counter.dimension}"))
            for counter in counters
            if counter.exempt_when is None or not counter.exempt_when()
            for item in self.items[group]
        ]
        # Flask-Limiter's order: shortest period first (a stable sort keeps counter order).
        checks.sort(key=lambda check: check[0])
        pending: list[tuple[RateLimitItem, _Counter, tuple[str, ...]]] = []
        for item, counter, identifiers in checks:
            try:
                if counter.deduct_when is not None:
                    pending.append((item, counter, identifiers))
                    admitted = self.windows.test(item, *identifiers)
                else:
                    admitted = self.windows.hit(item, *identifiers)
            except Exception:  # Redis and memory both failed: never a 500 for a limit
                log.exception("rate-limit check failed; letting the request through")
                continue
            if not admitted:
                count_rate_limited(group)
                raise RateLimited(group, retry_after_seconds=self._retry_after(item, identifiers))
        setattr(g, _PENDING, pending)

    def _deduct(self, response: Response) -> Response:
        """After the response: count the deduct_when limits whose condition it meets."""
        pending = g.pop(_PENDING, None)
        for item, counter, identifiers in pending or ():
            assert counter.deduct_when is not None
            if counter.deduct_when(response):
                try:
                    self.windows.hit(item, *identifiers)
                except Exception:
                    log.exception("rate-limit deduction failed")
        return response

    def _storage_changed(self, degraded: bool, reason: str) -> None:
        """SharedWindows' switches: one log line each way per process, never a traceback."""
        if degraded:
            self.storage_fallbacks += 1
            count_limiter_fallback(self._app)
            log.warning(
                "Redis unreachable (%s): rate limits are counted in this process until it "
                "answers again",
                reason,
            )
        else:
            log.info("Redis answers again: rate limits are shared again")

    def _retry_after(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        """Seconds until the limit a request broke lets a request through again."""
        try:
            stats = self.windows.get_window_stats(item, *identifiers)
            return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:  # the storage died since the check: use the window's length
            return max(1, item.get_expiry())


def rate_limits(app: Flask | None = None) -> RateLimits:
    limits: RateLimits = (app or current_app).extensions[EXTENSION]
    return limits


def _windows(
    settings: Settings, on_change: Callable[[bool, str], None]
) -> LocalWindows | SharedWindows:
    if not settings.redis_url:
        return LocalWindows()
    uri = settings.redis_url
    if uri.startswith("unix://"):
        uri = "redis+unix://" + uri.removeprefix("unix://")  # the name `limits` knows it by
    # Every Redis call has a deadline (extensions.REDIS_TIMEOUT_SECONDS): a slow Redis must
    # degrade a request, never hang a worker. redis-py takes the float; the dict type is limits'.
    timeout = cast(int, REDIS_TIMEOUT_SECONDS)
    return SharedWindows(
        uri,
        {
            "key_prefix": settings.ratelimit_key_prefix,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        },
        on_change=on_change,
    )


# --- keys: what each counter counts by ---------------------------------------------------------


def client_ip() -> str:
    return request.remote_addr or "unknown"


def account_key(identifier: str) -> str:
    """A counter key for an account identifier (an email or a subject) that does not show it.

    Keyed with the app's secret, so a Redis dump cannot be matched against a list of addresses.
    """
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, b"authserver.ratelimit-account:" + identifier.encode(), "sha256")
    return digest.hexdigest()[:32]


def form_email() -> str | None:
    """The account named by the form's ``email`` field, normalised like stored addresses."""
    return normalise_email(request.form.get("email") or "") or None


def link_in_path() -> str | None:
    """Emailed-link pages have no email field: count them per link (and per IP)."""
    token = (request.view_args or {}).get("token")
    return f"link:{token}" if isinstance(token, str) else None


def _account_counter(account: AccountKey) -> Callable[[], str]:
    def key() -> str:
        identifier = account()
        # Requests that name no account share one counter (an empty key would skip the limit).
        return "none" if not identifier else account_key(identifier)

    return key


def _has_recognised_device() -> bool:
    """The browser holds a live device cookie for the account it signs in to.

    Such a browser is exempt from the per-account limit: otherwise an attacker could keep the
    owner out with 429s exactly as a naive lockout would (the device has its own lockout quota).
    """
    devices, email = remembered_devices(), form_email()
    if not devices or email is None:
        return False  # no device cookie: nothing to look up
    try:
        user = find_user_by_email(email)
        if user is None:
            return False
        return find_device(user, devices.get(user.subject), now=utcnow()) is not None
    except SQLAlchemyError:
        # A database error here must not pass for a failure of the counters' storage: the
        # browser is simply not exempt.
        discard_failed_transaction()
        return False


def token_client_id() -> str | None:
    """The client a token request claims to be (not yet authenticated).

    RFC 6749 §2.3.1: HTTP Basic (form-encoded id) or ``client_id`` in the body; RFC 7523 §3:
    ``client_assertion`` names the client in its ``sub`` claim when ``client_id`` is absent.
    """
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0]) or None
    if request.form.get("client_id"):
        return request.form["client_id"]
    return _assertion_subject(request.form.get("client_assertion", ""))


def _assertion_subject(assertion: str) -> str | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def _presents_client_credentials() -> bool:
    return bool(
        request.headers.get("Authorization")
        or request.form.get("client_secret")
        or request.form.get("client_assertion")
    )


def _token_client_key() -> str:
    client_id = token_client_id() or "none"
    if len(client_id) > MAX_PLAIN_KEY_LENGTH:
        # Unchecked input: an oversized id must not become an oversized Redis key.
        client_id = hashlib.sha256(client_id.encode()).hexdigest()
    if not _presents_client_credentials():
        # A public client is every user's app at once: one shared budget would let its users
        # (or anyone quoting its id) throttle all the others. Count it per client and address.
        return f"{client_id}@{client_ip()}"
    return client_id


def _client_authenticated(response: Response) -> bool:
    # RFC 6749 §5.2: invalid_client is the one 401. Requests that fail to authenticate do not
    # use up the client's budget, so nobody can throttle a client by quoting its id; nor do
    # requests refused by a limit (429) ...
    return response.status_code not in (401, 429)


def _client_authentication_failed(response: Response) -> bool:
    # ... they count against the address that sent them instead.
    return response.status_code == 401


# --- the decorators -----------------------------------------------------------------------------


def _marked(group: str, *counters: _Counter) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:  # Any: the view's own signature
            return rate_limits().call(view, group, counters, args, kwargs)

        return cast(View, limited)

    return decorate


def limit_signin(view: View) -> View:
    """AUTHSERVER_RATELIMIT_SIGNIN per IP and per account (the form's ``email``).

    A browser recognised for that account (device cookie) is exempt from the per-account count.
    """
    return _marked(
        "signin",
        _Counter("ip", client_ip),
        _Counter("account", _account_counter(form_email), exempt_when=_has_recognised_device),
    )(view)


def limit_reauthentication(*, account: AccountKey) -> Callable[[View], View]:
    """The sign-in windows (AUTHSERVER_RATELIMIT_SIGNIN, the same per-IP and per-account
    counters as ``/login``) for signed-in forms that ask for the password again (changing it,
    deleting the account). ``account`` gives the signed-in user's e-mail address, so a guess
    here and a guess at the sign-in page use up one budget. No device exemption: the browser
    is signed in, and a recognised one would otherwise guess without limit.
    """
    return _marked(
        "signin", _Counter("ip", client_ip), _Counter("account", _account_counter(account))
    )


def limit_mfa(*, account: AccountKey) -> Callable[[View], View]:
    """AUTHSERVER_RATELIMIT_MFA per IP and per account; ``account`` names the account being
    signed in to (e.g. the pending sign-in's subject), or None."""
    return _marked("mfa", _Counter("ip", client_ip), _Counter("account", _account_counter(account)))


def limit_reset(*, account: AccountKey = form_email) -> Callable[[View], View]:
    """AUTHSERVER_RATELIMIT_RESET per IP and per account (by default the form's ``email``)."""
    return _marked(
        "reset", _Counter("ip", client_ip), _Counter("account", _account_counter(account))
    )


def limit_signup(view: View) -> View:
    """AUTHSERVER_RATELIMIT_SIGNUP per IP and per address asked for (the form's ``email``):
    addresses with an account count the same as new ones, so a 429 says nothing about them."""
    return _marked(
        "signup", _Counter("ip", client_ip), _Counter("account", _account_counter(form_email))
    )(view)


def limit_token(view: View) -> View:
    """AUTHSERVER_RATELIMIT_TOKEN per client; failed client authentication per IP."""
    return _marked(
        "token",
        _Counter("client", _token_client_key, deduct_when=_client_authenticated),
        _Counter("client-auth-failure", client_ip, deduct_when=_client_authentication_failed),
    )(view)


def _wrong_user_code(response: Response) -> bool:
    # The verification page answers a code it cannot use with 400 (web/device.py).
    return response.status_code == 400


def limit_user_code(view: View) -> View:
    """AUTHSERVER_RATELIMIT_USER_CODE per IP, counting wrong codes only (RFC 8628 §5.1: user
    codes are short, so guessing must be slow); a person who types theirs right is never
    held up by somebody else's typos on a shared address."""
    return _marked("user_code", _Counter("ip", client_ip, deduct_when=_wrong_user_code))(view)


def limit_csp_report(view: View) -> View:
    """AUTHSERVER_RATELIMIT_CSP_REPORT per IP: violation reports are unauthenticated writes to
    the log, so one address cannot flood it."""
    return _marked("csp_report", _Counter("ip", client_ip))(view)


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    app.extensions[EXTENSION] = RateLimits(app, settings)

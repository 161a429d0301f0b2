"""Every request the fault suite sends, timed and described, for the scenarios to judge.

A scenario's pass criteria are about what clients saw: status, `Retry-After`, the body's shape
and the time to answer. The recorder keeps exactly that per request, from any thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests

REQUEST_TIMEOUT_SECONDS = 10
EXCERPT_CHARACTERS = 300


class Need(Enum):
    """What a request needs to be answered, hence what it may answer during an outage."""

    MEMORY = "memory"  # JWKS, discovery, /healthz: answered from memory, always 200
    DATABASE = "database"  # anything that reads or writes the database


class Surface(Enum):
    PROTOCOL = "protocol"  # JSON: token, introspection (RFC 6749 §5.2-shaped errors)
    PAGE = "page"  # HTML for people: an error page shows the request id
    PROBE = "probe"  # /readyz, /healthz: their own JSON


@dataclass(frozen=True)
class Sample:
    action: str
    need: Need
    surface: Surface
    started: float  # time.monotonic()
    seconds: float
    status: int | None  # None: no HTTP answer (connection cut, timeout)
    failure: str  # the transport error when there was no answer
    has_retry_after: bool
    error_code: str | None  # the JSON "error" member of a protocol answer
    shows_request_id: bool  # the body names the X-Request-ID the response carries
    excerpt: str  # the start of the body of an answer that was not 2xx/3xx

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    def overlaps(self, at: float) -> bool:
        return self.started <= at <= self.ended

    def describe(self) -> str:
        answer = self.status if self.status is not None else f"no answer ({self.failure})"
        return f"{self.action}: {answer} after {self.seconds:.2f}s {self.excerpt[:120]!r}"


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[Sample] = []

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def send(
        self,
        http: requests.Session,
        action: str,
        method: str,
        url: str,
        *,
        need: Need = Need.DATABASE,
        surface: Surface = Surface.PROTOCOL,
        **options: Any,  # Any: requests' keyword arguments
    ) -> requests.Response | None:
        """Send one request (redirects not followed), record it; None when nothing answered."""
        options.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        options.setdefault("allow_redirects", False)
        started = time.monotonic()
        try:
            response = http.request(method, url, **options)
        except requests.RequestException as exc:
            self._add(
                Sample(action, need, surface, started, time.monotonic() - started, None,
                       _reason(exc), False, None, False, "")
            )  # fmt: skip
            return None
        seconds = time.monotonic() - started
        self._add(
            Sample(
                action,
                need,
                surface,
                started,
                seconds,
                response.status_code,
                "",
                "Retry-After" in response.headers,
                _error_code(response),
                _shows_request_id(response),
                "" if response.status_code < 400 else response.text[:EXCERPT_CHARACTERS],
            )
        )
        return response

    def _add(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)


def _error_code(response: requests.Response) -> str | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def _shows_request_id(response: requests.Response) -> bool:
    request_id = response.headers.get("X-Request-ID", "")
    return bool(request_id) and request_id in response.text


def _reason(exc: requests.RequestException) -> str:
    """The exception's class and its innermost cause (reset, refused, timed out...)."""
    cause: BaseException = exc
    while cause.__context__ is not None and cause.__context__ is not cause:
        cause = cause.__context__
    return f"{type(exc).__name__}: {type(cause).__name__}: {str(cause)[:120]}"

"""The few HTTP calls the kit makes (discovery, JWKS, introspection), on the standard library.

urllib keeps the kit free of dependencies. Every call has a deadline and a size limit, and
redirects are refused: discovery and the JWKS are fetched from the issuer's own URLs, and a
redirect there would let whoever controls its target supply keys.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from authserver_verifier.errors import ConfigurationError

USER_AGENT = "authserver-verifier/0.1"
# Far above any JWKS or discovery document; a larger answer is not ours.
MAX_BODY_BYTES = 1 << 20
LOOPBACK_NAMES = frozenset({"localhost"})


class FetchFailed(Exception):
    """The other side did not answer with a JSON object. The message is ours, never a secret."""


@dataclass(frozen=True)
class JsonAnswer:
    document: dict[str, Any]  # Any: JSON values
    headers: Message


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # Any: urllib's signature
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def check_url(url: str, *, what: str) -> str:
    """https, or http to a loopback host (development and tests only)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigurationError(f"{what} must be an absolute URL")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return url
    # RFC 8414 §2 / OpenID Connect Discovery §3: the issuer and its endpoints use https.
    raise ConfigurationError(f"{what} must use https (http only for a loopback host)")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def get_json(url: str, *, timeout_seconds: float) -> JsonAnswer:
    request = urllib.request.Request(  # noqa: S310  # the scheme was checked by check_url
        url, headers={"Accept": "application/json", "User-Agent": USER_AGENT}
    )
    return _send(request, timeout_seconds=timeout_seconds)


def post_form(
    url: str, form: bytes, *, headers: Mapping[str, str], timeout_seconds: float
) -> JsonAnswer:
    request = urllib.request.Request(  # noqa: S310  # the scheme was checked by check_url
        url,
        data=form,
        method="POST",
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
            **headers,
        },
    )
    return _send(request, timeout_seconds=timeout_seconds)


def _send(request: urllib.request.Request, *, timeout_seconds: float) -> JsonAnswer:
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            if response.status != 200:
                raise FetchFailed(f"answered {response.status}")
            body = response.read(MAX_BODY_BYTES + 1)
            headers = response.headers
    except urllib.error.HTTPError as error:
        raise FetchFailed(f"answered {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchFailed(f"unreachable ({type(error).__name__})") from None
    if len(body) > MAX_BODY_BYTES:
        raise FetchFailed("answer too large")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchFailed("answer is not JSON") from None
    if not isinstance(document, dict):
        raise FetchFailed("answer is not a JSON object")
    return JsonAnswer(document=document, headers=headers)

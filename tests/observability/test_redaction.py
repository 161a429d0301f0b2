"""The redaction step: secrets in messages, structured fields and tracebacks never reach a line.

Records go through a real logger and the real formatters into a buffer; each line is parsed as
JSON, as a log pipeline would.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from authserver.observability.logging import JsonFormatter, TextFormatter
from authserver.observability.redaction import (
    LINK_PATH_PREFIXES,
    REDACTED,
    is_secret_key,
    redact_text,
)
from authserver.observability.request_log import SECRET_PATH_ARGUMENTS
from authserver.security import devices
from authserver.sessions import cookies
from authserver.web import mfa

TOKEN = secrets.token_urlsafe(32)  # the shape of our codes, refresh, reset and unlock tokens
JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9"
    ".eyJzdWIiOiJ1c2VyLTEyMyIsImNsaWVudF9pZCI6ImFwcCJ9"
    ".c2lnbmF0dXJlLWJ5dGVzLXRoYXQtYXJlLW5vdC1yZWFs"
)
PASSWORD = "correct horse battery staple"
CLIENT_SECRET = secrets.token_urlsafe(32)
RECOVERY_CODE = "K7QX2-M9WRT"
TOTP_KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CUT_TOKEN = "q9Xv-2bLkT7m"  # the start of a token whose link was cut (fixed: it names tests)


class Capture:
    """A logger whose lines land in a buffer, written by one of our formatters."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger(f"tests.redaction.{secrets.token_hex(4)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)

    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:  # Any: JSON values
        return [json.loads(line) for line in self.text().splitlines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


@pytest.fixture
def captured() -> Iterator[Capture]:
    capture = Capture(JsonFormatter())
    yield capture
    capture.close()


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# (what is logged as the message, the secret in it)
HOSTILE_MESSAGES = [
    (f"Authorization: Bearer {JWT}", JWT),
    (f"calling userinfo with bearer {TOKEN}", TOKEN),
    (f"Authorization: Basic {basic('app-1', CLIENT_SECRET)}", basic("app-1", CLIENT_SECRET)),
    (f"header basic {basic('app-1', CLIENT_SECRET)}", basic("app-1", CLIENT_SECRET)),
    (f"token={TOKEN}&token_type_hint=refresh_token", TOKEN),
    (f"grant_type=authorization_code&code={TOKEN}&code_verifier=v{TOKEN}", TOKEN),
    (f"GET /cb?code={TOKEN}&state=s-{TOKEN}&iss=x", TOKEN),
    (f"refresh_token={TOKEN}", TOKEN),
    (f"client_id=app&client_secret={CLIENT_SECRET}", CLIENT_SECRET),
    (f"client_assertion_type=jwt-bearer&client_assertion={JWT}", JWT),
    (f"id_token_hint={JWT}&post_logout_redirect_uri=https://rp.example/out", JWT),
    ("email=a%40example.org&password=correct+horse+battery+staple", "correct+horse"),
    (f"new_password={TOKEN}&current_password=x", TOKEN),
    (f"GET /reset/{TOKEN} 200", TOKEN),
    (f"POST /verify-email/{TOKEN}", TOKEN),
    (f"https://id.example.com/unlock/{TOKEN}", TOKEN),
    # Emailed-link tokens in mangled paths: found by the path around them, not by their shape.
    (f"PUT /reset/!{TOKEN} 405", TOKEN),
    (f"Invalid HTTP request line: 'GET /verify-email/$%{TOKEN}'", TOKEN),
    (f"GET /unlock/\u00e9{CUT_TOKEN} 404", CUT_TOKEN),
    (f"GET /Reset/{TOKEN}", TOKEN),
    (f"GET /reset%2F{TOKEN} HTTP/1.1", TOKEN),
    (f"unhandled error on POST /verify-email/{CUT_TOKEN}*", CUT_TOKEN),
    (f"Invalid HTTP request line: 'GET /unlock/ {TOKEN} HTTP/1.1'", TOKEN),
    (f"GET /reset/'{TOKEN}' 404", TOKEN),
    (f"Cookie: authserver_session={TOKEN}; session=abc", TOKEN),
    (f"Set-Cookie: __Host-authserver_session={TOKEN}; HttpOnly; Secure", TOKEN),
    (f"authserver_mfa_pending={TOKEN}", TOKEN),
    (f'{{"client_secret": "{CLIENT_SECRET}", "client_id": "app"}}', CLIENT_SECRET),
    (f"{{'password': '{PASSWORD}', 'email': 'a@example.org'}}", PASSWORD),
    (f'{{"authorization": "Bearer {TOKEN}"}}', TOKEN),
    ('{"otp": 123456, "email": "a@example.org"}', "123456"),
    (f"connect to postgresql://auth:{CLIENT_SECRET}@db.internal/auth", CLIENT_SECRET),
    (f"recovery code {RECOVERY_CODE} used", RECOVERY_CODE),
    (f"otpauth://totp/Example:ada?secret={TOTP_KEY}&issuer=Example", TOTP_KEY),
    (f"key {TOTP_KEY}", TOTP_KEY),
    (f"an access token {JWT} in the text", JWT),
]
# Test ids without the secrets made at import: every pytest-xdist worker imports this module
# and must collect the same ids (and a log of the run then shows no live-looking secret).
HOSTILE_IDS = [
    message.replace(TOKEN, "TOKEN")
    .replace(CLIENT_SECRET, "CLIENT_SECRET")
    .replace(basic("app-1", CLIENT_SECRET), "BASIC")
    for message, _secret in HOSTILE_MESSAGES
]


@pytest.mark.parametrize(("message", "secret"), HOSTILE_MESSAGES, ids=HOSTILE_IDS)
def test_secrets_in_messages_are_replaced(captured: Capture, message: str, secret: str) -> None:
    captured.logger.warning(message)

    [record] = captured.records()
    assert secret not in captured.text()
    assert REDACTED in record["message"]


@pytest.mark.parametrize(("message", "secret"), HOSTILE_MESSAGES, ids=HOSTILE_IDS)
def test_secrets_passed_as_arguments_are_replaced(
    captured: Capture, message: str, secret: str
) -> None:
    captured.logger.warning("request was %s (%d bytes)", message, len(message))

    assert secret not in captured.text()


@pytest.mark.parametrize(
    "harmless",
    [
        "status_code=200 token_type_hint=refresh_token",
        "GET /reset/done 200",
        "GET /reset/ 404",
        "POST /verify-email/done 303",
        "basic information about sign-in",
        "client_id=app-123&scope=openid&response_type=code",
        "grant_type=client_credentials",
        "rotated key kid-2031-05-06 (RS256)",
    ],
)
def test_ordinary_text_is_left_alone(harmless: str) -> None:
    assert redact_text(harmless) == harmless


def test_structured_fields_are_redacted_by_name_however_deep(captured: Capture) -> None:
    captured.logger.info(
        "audit",
        extra={
            "password": PASSWORD,
            "detail": {
                "client_secret": CLIENT_SECRET,
                "reason": "no account",
                "sid": "public-session-id",
                "refresh_tokens_revoked": 3,
                "attempts": [{"code": "123456"}, {"recovery_code": RECOVERY_CODE}],
            },
            "headers": {
                "Authorization": f"Bearer {TOKEN}",
                "Cookie": f"authserver_session={TOKEN}",
                "User-Agent": "Mozilla/5.0",
            },
            "client_id": "app-123",
            "redirect": f"https://rp.example/cb?code={TOKEN}&state=x",
            "empty_token": None,
        },
    )

    [record] = captured.records()
    for secret in (PASSWORD, CLIENT_SECRET, TOKEN, "123456", RECOVERY_CODE):
        assert secret not in captured.text()
    assert record["password"] == REDACTED
    assert record["detail"] == {
        "client_secret": REDACTED,
        "reason": "no account",
        "sid": "public-session-id",
        "refresh_tokens_revoked": 3,
        "attempts": [{"code": REDACTED}, {"recovery_code": REDACTED}],
    }
    assert record["headers"] == {
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "User-Agent": "Mozilla/5.0",
    }
    assert record["client_id"] == "app-123"
    assert record["redirect"] == f"https://rp.example/cb?code={REDACTED}&state={REDACTED}"
    assert record["empty_token"] is None


def test_mapping_arguments_are_redacted_by_name(captured: Capture) -> None:
    captured.logger.info(
        "sign-in by %(email)s with %(password)s", {"email": "a@example.org", "password": PASSWORD}
    )

    [record] = captured.records()
    assert record["message"] == f"sign-in by a@example.org with {REDACTED}"


def test_tracebacks_are_scanned_too(captured: Capture) -> None:
    def refresh(refresh_token: str) -> None:
        raise ValueError(f"upstream refused Authorization: Bearer {refresh_token}")

    try:
        refresh(JWT)
    except ValueError:
        captured.logger.exception("refresh failed for token=%s", TOKEN)

    [record] = captured.records()
    assert JWT not in captured.text()
    assert TOKEN not in captured.text()
    assert record["message"] == f"refresh failed for token={REDACTED}"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: upstream refused Authorization: [redacted]" in record["exception"]


def test_a_hostile_value_cannot_break_or_forge_a_line(captured: Capture) -> None:
    forged = '{"level": "INFO", "message": "all good"}'
    # The lone surrogate goes in a field, not the message: pytest also keeps the message in the
    # test's report, which pytest-xdist sends to its controller as UTF-8 (a surrogate cannot be).
    captured.logger.warning(
        "user agent %s",
        "x\n" + forged + "\r\n\u2028",
        extra={"user_agent": "\n" + forged + "\ud800"},
    )

    lines = captured.text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "WARNING"
    assert record["user_agent"] == "\n" + forged + "\ud800"
    assert lines[0].isascii()


def test_every_line_has_the_same_base_fields(captured: Capture) -> None:
    captured.logger.error("outside any request", extra={"count": 2, "ratio": float("nan")})

    [record] = captured.records()
    assert list(record)[:4] == ["time", "level", "logger", "message"]
    assert record["time"].endswith("Z") and "T" in record["time"]
    assert (record["level"], record["logger"]) == ("ERROR", captured.logger.name)
    assert "request_id" not in record  # no request, no id
    assert (record["count"], record["ratio"]) == (2, "nan")


def test_text_lines_are_redacted_the_same_way() -> None:
    capture = Capture(TextFormatter())
    try:
        capture.logger.warning(
            "token request code=%s", TOKEN, extra={"client_secret": CLIENT_SECRET, "n": 1}
        )
    finally:
        capture.close()

    [line] = capture.text().splitlines()
    assert TOKEN not in line and CLIENT_SECRET not in line
    assert line.endswith(
        f"WARNING {capture.logger.name} token request code={REDACTED} "
        f'client_secret="{REDACTED}" n=1'
    )


# --- the lists the redaction step relies on stay in step with the code ---------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        cookies.COOKIE_NAME,
        cookies.SECURE_COOKIE_NAME,
        devices.COOKIE_NAME,
        devices.SECURE_COOKIE_NAME,
        mfa.PENDING_COOKIE_NAME,
        "session",  # Flask's own (CSRF secret)
    ],
)
def test_every_cookie_of_ours_is_a_secret_name(cookie: str) -> None:
    assert is_secret_key(cookie)


def test_flask_session_cookie_is_the_one_we_name(app: Flask) -> None:
    assert is_secret_key(app.config["SESSION_COOKIE_NAME"])


def test_every_secret_route_argument_is_in_a_link_path_the_scanner_knows(app: Flask) -> None:
    secret_routes = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if not SECRET_PATH_ARGUMENTS.isdisjoint(rule.arguments)
    ]
    other_arguments = {
        argument
        for rule in app.url_map.iter_rules()
        for argument in rule.arguments
        if argument not in SECRET_PATH_ARGUMENTS
    }

    assert secret_routes  # reset, unlock and verification links
    assert all(route.startswith(LINK_PATH_PREFIXES) for route in secret_routes), secret_routes
    assert not any(is_secret_key(argument) for argument in other_arguments), other_arguments

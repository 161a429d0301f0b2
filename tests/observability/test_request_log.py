"""One log line per request, written by the app: method, path without query or secrets, status,
duration, request id, client address, user agent, and who the request acted for."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime

from flask import Flask

from authserver.keys.manager import ensure_active_keys
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.logs import captured_log
from tests.support.oauth import make_relying_party, token_request
from tests.support.web import sign_in

REQUEST_LOGGER = "authserver.request"
LINK_TOKEN = secrets.token_urlsafe(32)


def logging_app(app: Flask, make_app: AppFactory) -> Flask:
    """`app` on the same database and keys, logging at INFO (test settings log warnings only)."""
    keys = app.extensions["authserver.settings"].encryption_keys
    return make_app(log_level="INFO", encryption_keys=keys)


def test_a_request_is_one_line_with_its_facts_and_no_query_string(
    app: Flask, make_app: AppFactory
) -> None:
    client = logging_app(app, make_app).test_client()
    code, state = secrets.token_urlsafe(32), secrets.token_urlsafe(16)

    with captured_log() as log:
        response = client.get(
            f"/healthz?code={code}&state={state}",
            headers={"X-Request-ID": "probe-0123456789", "User-Agent": "probe/1.0 " + "x" * 500},
        )

    [line] = log.records(logger=REQUEST_LOGGER)
    assert response.status_code == 200
    assert line["message"] == "GET /healthz 200"
    # Not from a trusted proxy, so the offered id is replaced by one of ours.
    assert line["request_id"] == response.headers["X-Request-ID"] != "probe-0123456789"
    assert {key: line[key] for key in ("method", "path", "status", "client_ip")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "client_ip": "127.0.0.1",
    }
    assert line["user_agent"] == ("probe/1.0 " + "x" * 500)[:200]
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 10_000
    assert "user_subject" not in line and "client_id" not in line
    assert code not in log.text() and state not in log.text()


def test_the_token_of_an_emailed_link_is_never_in_the_line(
    app: Flask, make_app: AppFactory
) -> None:
    client = logging_app(app, make_app).test_client()

    with captured_log() as log:
        page = client.get(f"/reset/{LINK_TOKEN}")
        verify = client.get(f"/verify-email/{LINK_TOKEN}?utm=mail")
        unlock = client.get(f"/unlock/{LINK_TOKEN}")
        wrong_method = client.put(f"/reset/{LINK_TOKEN}")  # 405: no route matched
        done = client.get("/reset/done")

    lines = log.records(logger=REQUEST_LOGGER)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/reset/[redacted]", page.status_code),
        ("GET", "/verify-email/[redacted]", verify.status_code),
        ("GET", "/unlock/[redacted]", unlock.status_code),
        ("PUT", "/reset/[redacted]", wrong_method.status_code),
        ("GET", "/reset/done", done.status_code),
    ]
    assert wrong_method.status_code == 405
    assert LINK_TOKEN not in log.text()


def test_a_link_token_in_a_mangled_path_is_never_in_the_line(
    app: Flask, make_app: AppFactory
) -> None:
    """Unrouted and 405 paths are logged as sent: the token is found by the prefix before it."""
    client = logging_app(app, make_app).test_client()
    token = LINK_TOKEN[:20]  # a cut-off link

    with captured_log() as log:
        responses = [
            client.put(f"/reset/!{token}"),  # 405
            client.post(f"/unlock/({token}"),  # 405
            client.get(f"/verify-email/{token}/extra"),  # 404
            client.get(f"/RESET/{token}"),  # 404
            client.post(f"/unlock/%20'{token}&amp;"),  # 405: pasted with a space and a quote
        ]

    assert [response.status_code for response in responses] == [405, 405, 404, 404, 405]
    paths = [line["path"] for line in log.records(logger=REQUEST_LOGGER)]
    assert paths == ["/reset/[redacted]", "/unlock/[redacted]", "/verify-email/[redacted]",
                     "/RESET/[redacted]", "/unlock/[redacted]"]  # fmt: skip
    assert token not in log.text()


def test_the_line_names_the_signed_in_user(app: Flask, make_app: AppFactory) -> None:
    user = make_user()
    client = logging_app(app, make_app).test_client()

    with captured_log() as log:
        signed_in = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
        home = client.get("/")

    login_page, login, home_line = log.records(logger=REQUEST_LOGGER)
    assert signed_in.status_code in (302, 303) and home.status_code == 200
    assert "user_subject" not in login_page
    assert (login["method"], login["path"], login["user_subject"]) == (
        "POST",
        "/login",
        user.subject,
    )
    assert home_line["user_subject"] == user.subject
    assert DEFAULT_PASSWORD not in log.text()
    # The audit line of the sign-in carries the same request id as the request's own line.
    [audit] = [r for r in log.records(logger="authserver.audit") if r["event"] == "user:login"]
    assert audit["request_id"] == login["request_id"] == signed_in.headers["X-Request-ID"]


def test_the_line_names_the_authenticated_client(app: Flask, make_app: AppFactory) -> None:
    ensure_active_keys(now=datetime.now(UTC))
    rp = make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api:read")
    client = logging_app(app, make_app).test_client()

    with captured_log() as log:
        issued = token_request(client, rp, {"grant_type": "client_credentials"})
        impostor = replace(rp, secret="wrong-" + secrets.token_hex(8))
        refused = token_request(client, impostor, {"grant_type": "client_credentials"})

    good, bad = log.records(logger=REQUEST_LOGGER)
    assert (issued.status_code, refused.status_code) == (200, 401)
    assert (good["path"], good["status"], good["client_id"]) == ("/oauth/token", 200, rp.client_id)
    assert bad["status"] == 401 and "client_id" not in bad  # claimed, never authenticated
    assert rp.secret is not None and rp.secret not in log.text()
    assert issued.json["access_token"] not in log.text()

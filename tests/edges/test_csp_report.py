"""POST /csp-report: violation reports are logged safely and answered with 204."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from tests.conftest import AppFactory

REPORTER = "authserver.edges.csp_report"
RESET_TOKEN = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"


def legacy_report(**overrides: object) -> dict[str, object]:
    report: dict[str, object] = {
        "document-uri": f"https://id.example.test/reset/{RESET_TOKEN}?code=secret-code#frag",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "https://cdn.evil.example/x.js?session=abc",
        "line-number": 12,
        "disposition": "enforce",
    }
    report.update(overrides)
    return {"csp-report": report}


def reporting_api_batch(count: int = 1) -> list[dict[str, object]]:
    return [
        {
            "type": "csp-violation",
            "age": 10,
            "url": "https://id.example.test/login",
            "body": {
                "documentURL": "https://id.example.test/login?next=%2Faccount",
                "effectiveDirective": "style-src-attr",
                "blockedURL": "inline",
                "disposition": "report",
                "sample": "color: red",
            },
        }
        for _ in range(count)
    ]


def logged_reports(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    lines = [r.getMessage() for r in caplog.records if r.name == REPORTER]
    return [json.loads(line.removeprefix("csp violation ")) for line in lines if "{" in line]


def test_report_uri_format_is_logged_without_secrets(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORTER)

    response = client.post(
        "/csp-report", data=json.dumps(legacy_report()), content_type="application/csp-report"
    )

    assert response.status_code == 204
    assert response.data == b""
    assert logged_reports(caplog) == [
        {
            "document": "https://id.example.test/reset/[redacted]",
            "directive": "script-src-elem",
            "blocked": "https://cdn.evil.example/x.js",
            "line": "12",
            "disposition": "enforce",
        }
    ]
    assert RESET_TOKEN not in caplog.text
    assert "secret-code" not in caplog.text and "session=abc" not in caplog.text


def test_reporting_api_format_is_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORTER)

    response = client.post(
        "/csp-report",
        data=json.dumps(reporting_api_batch()),
        content_type="application/reports+json",
    )

    assert response.status_code == 204
    assert logged_reports(caplog) == [
        {
            "document": "https://id.example.test/login",
            "directive": "style-src-attr",
            "blocked": "inline",
            "disposition": "report",
        }
    ]


def test_a_flood_in_one_request_is_capped(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORTER)

    response = client.post(
        "/csp-report",
        data=json.dumps(reporting_api_batch(50)),
        content_type="application/reports+json",
    )

    assert response.status_code == 204
    assert len(logged_reports(caplog)) == 10
    assert "40 more reports in that request not logged" in caplog.text


def test_a_report_cannot_forge_log_lines_or_markup(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORTER)
    hostile = legacy_report(
        **{
            "violated-directive": "script-src\nERROR forged line",
            "effective-directive": "x" * 5000,
            "blocked-uri": "<script>alert(1)</script>\r\nINFO forged",
            "source-file": "javascript:alert(1)//" + "a" * 5000,
        }
    )

    response = client.post(
        "/csp-report", data=json.dumps(hostile), content_type="application/csp-report"
    )

    assert response.status_code == 204
    for record in caplog.records:
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    (logged,) = logged_reports(caplog)
    assert logged["directive"] == "?"
    assert all(len(value) <= 200 for value in logged.values())


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/csp-report", 400),
        (b"\xff\xfe{}", "application/csp-report", 400),
        ('"just a string"', "application/csp-report", 400),
        ('{"csp-report": "not an object"}', "application/csp-report", 400),
        ('[{"type": "deprecation", "body": {}}]', "application/reports+json", 400),
        ("[]", "application/reports+json", 400),
        (json.dumps(legacy_report()), "text/plain", 415),
        (json.dumps(legacy_report()), "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_reports_are_refused_and_not_logged(
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    body: str | bytes,
    content_type: str,
    status: int,
) -> None:
    caplog.set_level(logging.WARNING, logger=REPORTER)

    response = client.post("/csp-report", data=body, content_type=content_type)

    assert response.status_code == status
    assert response.json is not None and response.json["error"] == "invalid_request"
    assert "not json" not in response.text
    assert logged_reports(caplog) == []


def test_an_oversized_report_gets_413(client: FlaskClient) -> None:
    padded = legacy_report(**{"script-sample": "a" * 20_000})

    response = client.post(
        "/csp-report", data=json.dumps(padded), content_type="application/csp-report"
    )

    assert response.status_code == 413
    assert response.json == {
        "error": "invalid_request",
        "error_description": "Request Entity Too Large",
    }


def test_needs_no_csrf_token_and_sets_no_cookie(client: FlaskClient) -> None:
    response = client.post(
        "/csp-report", data=json.dumps(legacy_report()), content_type="application/csp-report"
    )

    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers


def test_only_post_is_allowed(client: FlaskClient) -> None:
    response = client.get("/csp-report")

    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert response.json == {"error": "invalid_request", "error_description": "Method Not Allowed"}


def test_reports_are_rate_limited_per_address(make_app: AppFactory) -> None:
    client = make_app(ratelimit_csp_report="3/minute").test_client()
    body = json.dumps(legacy_report())

    statuses = [
        client.post("/csp-report", data=body, content_type="application/csp-report").status_code
        for _ in range(4)
    ]
    elsewhere = client.post(
        "/csp-report",
        data=body,
        content_type="application/csp-report",
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )

    assert statuses == [204, 204, 204, 429]
    assert elsewhere.status_code == 204

"""docs/alerts.yml: a well-formed Prometheus rule file that only names what /metrics exposes.

The file is YAML in its JSON-compatible style (its header says why): after its comment lines,
the standard library's JSON parser reads it, and JSON documents are YAML documents.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from authserver.audit.events import EventTag
from authserver.keys.manager import ensure_active_keys
from authserver.ratelimit.limits import GROUPS
from tests.conftest import AppFactory
from tests.support.metrics import METRICS_TOKEN, Scrape, bearer

ALERTS = Path(__file__).resolve().parent.parent.parent / "docs" / "alerts.yml"
METRIC_NAME = re.compile(r"\bauthserver_[a-z_]+\b")
LABEL_MATCHER = re.compile(r"([a-z_]+)\s*(?:=|!=|=~|!~)\s*'([^']*)'")
DURATION = re.compile(r"\d+[smhd]")


def load_rules() -> dict[str, Any]:  # Any: the parsed document
    lines = ALERTS.read_text(encoding="utf-8").splitlines()
    body = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    document: dict[str, Any] = json.loads(body)
    return document


def all_rules() -> list[dict[str, Any]]:
    return [rule for group in load_rules()["groups"] for rule in group["rules"]]


def test_the_rule_file_has_the_shape_prometheus_expects() -> None:
    document = load_rules()

    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    alerts = [rule["alert"] for rule in all_rules()]
    assert len(alerts) == len(set(alerts))
    for rule in all_rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert DURATION.fullmatch(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_each_kind_of_suspicious_activity_has_an_alert() -> None:
    watched = " ".join(rule["expr"] for rule in all_rules())

    for needle in (
        "event='user:login:failure'",
        "event='user:lockout'",
        "event='token:refresh-reuse:failure'",
        "event='token:code-replay:failure'",
        "event='user:mfa:failure'",
        "authserver_rate_limited_requests_total",
        "authserver_rate_limit_storage_fallbacks_total",
        "authserver_signing_key_age_seconds",
        "status_class='5xx'",
    ):
        assert needle in watched


@pytest.fixture
def scraped(app: Flask, make_app: AppFactory) -> tuple[Flask, Scrape]:
    served = make_app(metrics_token=METRICS_TOKEN)
    with served.app_context():
        ensure_active_keys(now=datetime.now(UTC))
    client = served.test_client()
    client.get("/healthz")  # the request series appear with the first request
    response = client.get("/metrics", headers=bearer())
    assert response.status_code == 200
    return served, Scrape.parse(response.text)


def test_every_metric_an_alert_uses_is_exposed(scraped: tuple[Flask, Scrape]) -> None:
    _, metrics = scraped
    used = {name for rule in all_rules() for name in METRIC_NAME.findall(rule["expr"])}

    assert used  # the rules do watch our metrics
    assert used - metrics.names == set()


def test_every_label_value_an_alert_matches_exists(scraped: tuple[Flask, Scrape]) -> None:
    served, _ = scraped
    known = {
        "event": {str(tag) for tag in EventTag},
        "endpoint": {rule.endpoint for rule in served.url_map.iter_rules()},
        "status_class": {f"{hundred}xx" for hundred in range(1, 6)},
        "group": set(GROUPS),
    }

    for rule in all_rules():
        for label, value in LABEL_MATCHER.findall(rule["expr"]):
            assert value in known[label], (rule["alert"], label, value)

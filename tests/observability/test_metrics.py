"""/metrics over HTTP: who may read it, that Prometheus can parse it, and that the counts are true.

Every app owns its metrics, so each test starts from zero and can expect exact numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.audit.events import EventTag
from authserver.config import ConfigError, Settings
from authserver.keys.manager import ensure_active_keys, rotate_keys
from authserver.ratelimit.limits import GROUPS
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL
from tests.factories import make_user as make_other_user
from tests.observability.test_health import closed_port
from tests.support.metrics import METRICS_TOKEN, Scrape, bearer
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def peer(app: Flask, ip: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def scrape(app: Flask) -> Scrape:
    response = app.test_client().get("/metrics", headers=bearer())
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == TEXT_FORMAT
    assert response.headers["Cache-Control"] == "no-store"
    return Scrape.parse(response.text)


# --- who may read it -----------------------------------------------------------------------------


def test_without_token_or_allow_list_metrics_do_not_exist(app: Flask) -> None:
    response = app.test_client().get("/metrics", headers=bearer())

    assert response.status_code == 404
    # The same answer as any unknown endpoint a program might call (probes answer JSON).
    assert app.test_client().get("/oauth/no-such-endpoint").text == response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-" + "x" * 32,
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        f"Basic {METRICS_TOKEN}",
        "Bearer ",
        METRICS_TOKEN,
    ],
)
def test_a_missing_or_wrong_token_is_401_without_detail(
    app: Flask, make_app: AppFactory, authorization: str | None
) -> None:
    served = make_app(metrics_token=METRICS_TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = served.test_client().get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.text == "Unauthorized\n"
    assert "authserver_" not in response.text


def test_the_right_token_reads_the_metrics(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN)

    response = served.test_client().get(
        "/metrics",
        headers={"Authorization": "bearer " + METRICS_TOKEN},  # schemes ignore case
    )

    assert response.status_code == 200
    assert "authserver_tokens_issued_total" in Scrape.parse(response.text).names


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("10.1.2.3", 200),
        ("192.0.2.7", 200),
        ("192.0.2.8", 403),
        ("203.0.113.5", 403),
        ("2001:db8::1", 200),
        ("2001:db9::1", 403),
    ],
)
def test_the_allow_list_checks_the_direct_peer(
    app: Flask, make_app: AppFactory, address: str, status: int
) -> None:
    served = make_app(metrics_allow=("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"))

    response = peer(served, address).get("/metrics")

    assert response.status_code == status
    if status == 403:
        assert response.text == "Forbidden\n"


def test_a_forwarded_for_header_does_not_get_past_the_allow_list(
    app: Flask, make_app: AppFactory
) -> None:
    served = make_app(metrics_allow=("10.0.0.0/8",))

    response = peer(served, "203.0.113.5").get("/metrics", headers={"X-Forwarded-For": "10.0.0.1"})

    assert response.status_code == 403


def test_with_both_configured_a_scrape_must_pass_both(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN, metrics_allow=("10.0.0.0/8",))

    assert peer(served, "10.0.0.9").get("/metrics", headers=bearer()).status_code == 200
    assert peer(served, "10.0.0.9").get("/metrics").status_code == 401
    assert peer(served, "203.0.113.5").get("/metrics", headers=bearer()).status_code == 403


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "AUTHSERVER_METRICS_TOKEN",
            "too-short",
            "AUTHSERVER_METRICS_TOKEN: must be at least 32 characters",
        ),
        (
            "AUTHSERVER_METRICS_ALLOW",
            "10.0.0.0/8, not-an-address",
            "AUTHSERVER_METRICS_ALLOW: expected IP addresses or CIDR networks joined by commas, "
            "got 'not-an-address'",
        ),
        (
            "AUTHSERVER_METRICS_ALLOW",
            "10.0.0.1/8",
            "AUTHSERVER_METRICS_ALLOW: expected IP addresses or CIDR networks joined by commas, "
            "got '10.0.0.1/8'",
        ),
    ],
)
def test_bad_metrics_settings_are_refused_at_start_up(
    variable: str, value: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: value, "AUTHSERVER_INSTANCE_PATH": str(tmp_path)})

    assert any(line.startswith(problem) for line in refused.value.problems)


def test_production_refuses_a_short_metrics_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {
                "AUTHSERVER_ENV": "production",
                "AUTHSERVER_INSTANCE_PATH": str(tmp_path),
                "AUTHSERVER_METRICS_TOKEN": "x" * 31,
            }
        )

    assert any(
        line.startswith("AUTHSERVER_METRICS_TOKEN: must be at least 32 characters")
        for line in refused.value.problems
    )


def test_metrics_settings_are_parsed_and_the_token_masked(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "AUTHSERVER_INSTANCE_PATH": str(tmp_path),
            "AUTHSERVER_METRICS_TOKEN": METRICS_TOKEN,
            "AUTHSERVER_METRICS_ALLOW": " 10.0.0.0/8 ,192.0.2.7,2001:db8::/32",
        }
    )

    assert settings.metrics_allow == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")
    assert settings.describe()["AUTHSERVER_METRICS_TOKEN"] == "********"


# --- what it counts ------------------------------------------------------------------------------


def refresh(client: FlaskClient, rp: RelyingParty, token: str) -> int:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return token_request(client, rp, data).status_code


def attempt_sign_in(client: FlaskClient, email: str) -> int:
    return sign_in(client, email=email, password="not the password").status_code


def test_counts_after_a_run_of_flows_are_exact(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN, lockout_threshold=3, ratelimit_token="5/minute")
    with served.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        make_user()
        make_other_user()
        rp = make_relying_party()
        machine = make_relying_party(
            grant_types=("client_credentials",), redirect_uris=(), scope="api:read"
        )
    ada, attacker = served.test_client(), peer(served, "203.0.113.9")

    assert sign_in(ada).status_code == 303
    assert attempt_sign_in(attacker, "nobody@example.com") == 401
    assert [attempt_sign_in(attacker, DEFAULT_EMAIL) for _ in range(3)] == [401] * 3
    pkce = Pkce()
    code = obtain_code(ada, rp, pkce)
    first = exchange_code(ada, rp, code, pkce)
    assert first.status_code == 200
    assert refresh(ada, rp, first.json["refresh_token"]) == 200
    assert refresh(ada, rp, first.json["refresh_token"]) == 200  # a lost answer's retry
    assert refresh(ada, rp, first.json["refresh_token"]) == 400  # reuse: the family is revoked
    assert exchange_code(ada, rp, code, pkce).status_code == 400  # code replay
    machine_statuses = [
        token_request(ada, machine, {"grant_type": "client_credentials"}).status_code
        for _ in range(6)
    ]
    assert machine_statuses == [200] * 5 + [429]
    assert [ada.get(path).status_code for path in ("/nope", "/nope/2", "/x?y=z")] == [404] * 3

    metrics = scrape(served)

    def audit(tag: EventTag, outcome: str) -> float:
        return metrics.value("authserver_audit_events_total", event=str(tag), outcome=outcome)

    assert audit(EventTag.LOGIN, "success") == 1
    assert audit(EventTag.LOGIN_FAILURE, "failure") == 4
    assert audit(EventTag.LOCKOUT, "success") == 1
    assert audit(EventTag.REFRESH_REUSED, "failure") == 1
    assert audit(EventTag.CODE_REPLAYED, "failure") == 1
    assert audit(EventTag.MFA_FAILURE, "failure") == 0
    assert metrics.series("authserver_tokens_issued_total") == {
        frozenset({("grant_type", "authorization_code")}): 1,
        frozenset({("grant_type", "refresh_token")}): 2,
        frozenset({("grant_type", "client_credentials")}): 5,
        frozenset({("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")}): 0,
    }
    assert metrics.series("authserver_rate_limited_requests_total") == {
        frozenset({("group", group)}): 1 if group == "token" else 0 for group in GROUPS
    }
    assert metrics.value("authserver_rate_limit_storage_fallbacks_total") == 0

    def requests(endpoint: str, status_class: str) -> float:
        return metrics.value(
            "authserver_http_requests_total", endpoint=endpoint, status_class=status_class
        )

    assert requests("token.token", "2xx") == 8
    assert requests("token.token", "4xx") == 3
    assert requests("login.login_submit", "3xx") == 1
    assert requests("login.login_submit", "4xx") == 4
    assert requests("unmatched", "4xx") == 3  # three unknown paths, one series
    assert (
        metrics.value("authserver_http_request_duration_seconds_count", endpoint="token.token")
        == 11
    )
    assert (
        metrics.value(
            "authserver_http_request_duration_seconds_bucket", endpoint="token.token", le="+Inf"
        )
        == 11
    )


def test_label_values_come_from_fixed_sets_only(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN)
    client = served.test_client()
    for index in range(5):
        client.get(f"/user/{index}?email=someone{index}@example.com")
        client.post("/oauth/token", data={"grant_type": f"urn:made-up:{index}"})

    metrics = scrape(served)

    endpoints = {
        dict(labels)["endpoint"] for labels in metrics.series("authserver_http_requests_total")
    }
    assert endpoints == {"unmatched", "token.token"}
    events = {dict(labels)["event"] for labels in metrics.series("authserver_audit_events_total")}
    assert events == {str(tag) for tag in EventTag}
    grant_types = {
        dict(labels)["grant_type"] for labels in metrics.series("authserver_tokens_issued_total")
    }
    assert grant_types == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }


def test_an_unhandled_error_counts_as_5xx_under_its_endpoint(
    app: Flask, make_app: AppFactory
) -> None:
    served = make_app(metrics_token=METRICS_TOKEN)

    def broken() -> str:
        raise RuntimeError("a bug")

    served.add_url_rule("/broken", "broken", broken)

    assert served.test_client().get("/broken").status_code == 500
    assert (
        scrape(served).value(
            "authserver_http_requests_total", endpoint="broken", status_class="5xx"
        )
        == 1
    )


def test_losing_the_rate_limit_storage_is_counted(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    attacker = peer(served, "203.0.113.9")

    assert attempt_sign_in(attacker, "nobody@example.com") == 401
    assert attempt_sign_in(attacker, "nobody@example.com") == 401

    assert scrape(served).value("authserver_rate_limit_storage_fallbacks_total") == 1


# --- signing-key age -----------------------------------------------------------------------------


def test_key_age_is_reported_per_active_key(app: Flask, make_app: AppFactory) -> None:
    served = make_app(metrics_token=METRICS_TOKEN, key_rotation_interval=30 * 86400)
    ten_days = 10 * 86400
    with served.app_context():
        ensure_active_keys(now=datetime.now(UTC) - timedelta(seconds=ten_days))
    published = {
        (key["kid"], key["alg"])
        for key in served.test_client().get("/.well-known/jwks.json").json["keys"]
    }

    metrics = scrape(served)

    ages = {
        (dict(labels)["kid"], dict(labels)["alg"]): age
        for labels, age in metrics.series("authserver_signing_key_age_seconds").items()
    }
    assert set(ages) == published
    assert {alg for _, alg in ages} == {"RS256", "ES256", "EdDSA"}
    assert all(ten_days <= age < ten_days + 60 for age in ages.values())
    assert metrics.value("authserver_signing_key_rotation_interval_seconds") == 30 * 86400


def test_a_rotated_key_is_reported_young_and_the_retired_one_not_at_all(
    app: Flask, make_app: AppFactory
) -> None:
    served = make_app(metrics_token=METRICS_TOKEN)
    with served.app_context():
        ensure_active_keys(now=datetime.now(UTC) - timedelta(days=100))
    before = scrape(served).series("authserver_signing_key_age_seconds")
    with served.app_context():
        rotate_keys(
            now=datetime.now(UTC),
            settings=served.extensions["authserver.settings"],
            algs=["ES256"],
            immediately=True,
        )

    after = scrape(served).series("authserver_signing_key_age_seconds")

    es256_before = [labels for labels in before if ("alg", "ES256") in labels]
    es256_after = [(labels, age) for labels, age in after.items() if ("alg", "ES256") in labels]
    assert len(es256_before) == len(es256_after) == 1
    assert es256_after[0][0] != es256_before[0]
    assert es256_after[0][1] < 60
    others = {labels for labels in after if ("alg", "ES256") not in labels}
    assert others == {labels for labels in before if ("alg", "ES256") not in labels}

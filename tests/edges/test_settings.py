"""The edge settings are parsed and checked at start-up like every other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authserver.config import ConfigError, Settings


def settings_from(tmp_path: Path, **variables: str) -> Settings:
    environ = {"AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance"), **variables}
    return Settings.from_env(environ, dotenv_path=tmp_path / ".env")


def test_defaults_trust_no_proxy_and_enforce_the_policy(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)

    assert settings.trusted_proxies == ()
    assert settings.trusted_proxy_hops == 1
    assert settings.csp_report_only is False
    assert settings.max_content_length == 65536
    assert settings.flask_mapping()["MAX_CONTENT_LENGTH"] == 65536


def test_trusted_proxies_are_addresses_and_networks(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path, AUTHSERVER_TRUSTED_PROXIES=" 10.0.0.1, 192.168.0.0/16 ,2001:db8::/32"
    )

    assert settings.trusted_proxies == ("10.0.0.1/32", "192.168.0.0/16", "2001:db8::/32")


def test_a_network_with_host_bits_is_refused_as_a_likely_typo(tmp_path: Path) -> None:
    # "10.1.2.3/8" is either 10.1.2.3 or 10.0.0.0/8: trusting the wider one by guess is unsafe.
    with pytest.raises(ConfigError, match=re.escape("got '10.1.2.3/8'")):
        settings_from(tmp_path, AUTHSERVER_TRUSTED_PROXIES="10.1.2.3/8")


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        (
            {"AUTHSERVER_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"},
            "AUTHSERVER_TRUSTED_PROXIES: expected IP addresses or CIDR networks joined by "
            "commas, got 'proxy.internal'",
        ),
        (
            {"AUTHSERVER_TRUSTED_PROXIES": "10.0.0.0/33"},
            "AUTHSERVER_TRUSTED_PROXIES: expected IP addresses or CIDR networks joined by "
            "commas, got '10.0.0.0/33'",
        ),
        (
            {"AUTHSERVER_TRUSTED_PROXY_HOPS": "0"},
            "AUTHSERVER_TRUSTED_PROXY_HOPS: expected a positive number, got 0",
        ),
        (
            {"AUTHSERVER_MAX_CONTENT_LENGTH": "1024"},
            "AUTHSERVER_MAX_CONTENT_LENGTH: must be at least 4096 bytes",
        ),
        (
            {"AUTHSERVER_CSP_REPORT_ONLY": "maybe"},
            "AUTHSERVER_CSP_REPORT_ONLY: expected true, false, 1 or 0, got 'maybe'",
        ),
        (
            {"AUTHSERVER_RATELIMIT_CSP_REPORT": "0/minute"},
            "AUTHSERVER_RATELIMIT_CSP_REPORT: every limit must allow at least one request, "
            "got '0/minute'",
        ),
    ],
)
def test_bad_values_stop_start_up_with_one_clear_line(
    tmp_path: Path, variables: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, **variables)

    assert raised.value.problems == [problem]

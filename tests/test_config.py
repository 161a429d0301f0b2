"""Settings: parsing, *_FILE variants, .env, production refusals, development secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from authserver.config import ConfigError, Settings, env_name, setting_fields
from authserver.dev_secrets import new_encryption_key

PRODUCTION_ENV = {
    "AUTHSERVER_ENV": "production",
    "AUTHSERVER_ISSUER": "https://id.example.com",
    "AUTHSERVER_DATABASE_URL": "postgresql://auth@db.internal/auth",
    "AUTHSERVER_SECRET_KEY": "s" * 40,
    "AUTHSERVER_ENCRYPTION_KEYS": new_encryption_key(),
    "AUTHSERVER_MAIL_BACKEND": "smtp",
}


def load(environ: dict[str, str], tmp_path: Path) -> Settings:
    environ = {"AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance"), **environ}
    return Settings.from_env(environ, dotenv_path=tmp_path / ".env")


def problems_of(environ: dict[str, str], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(environ, tmp_path)
    return caught.value.problems


def test_development_defaults_need_no_setup(tmp_path: Path) -> None:
    settings = load({}, tmp_path)

    assert settings.env == "development"
    assert settings.issuer == "http://127.0.0.1:5000"
    assert settings.access_token_ttl == 600
    assert settings.auth_code_ttl == 60
    assert settings.refresh_token_ttl == 30 * 86400
    assert settings.refresh_token_idle_ttl == 7 * 86400
    assert (
        settings.sqlalchemy_url
        == f"sqlite:///{(tmp_path / 'instance').resolve()}/authserver.sqlite3"
    )
    assert len(settings.secret_key) >= 32
    assert settings.generated_secrets


def test_development_secrets_are_kept_private_and_reused(tmp_path: Path) -> None:
    first = load({}, tmp_path)
    second = load({}, tmp_path)

    assert (first.secret_key, first.encryption_keys) == (second.secret_key, second.encryption_keys)
    secrets_file = tmp_path / "instance" / "dev-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600


def test_corrupt_development_secrets_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "dev-secrets.json").write_text("{not json")

    [problem] = problems_of({}, tmp_path)

    assert "dev-secrets.json: unreadable development secrets" in problem


def test_production_with_nothing_set_names_every_missing_setting(tmp_path: Path) -> None:
    problems = problems_of({"AUTHSERVER_ENV": "production"}, tmp_path)

    assert problems == [
        "AUTHSERVER_DATABASE_URL: required in production",
        "AUTHSERVER_ENCRYPTION_KEYS: required in production",
        "AUTHSERVER_ISSUER: required in production",
        "AUTHSERVER_MAIL_BACKEND: required in production",
        "AUTHSERVER_SECRET_KEY: required in production",
    ]
    assert not (tmp_path / "instance").exists(), "production must not invent secrets"


def test_complete_production_configuration_is_accepted(tmp_path: Path) -> None:
    settings = load(PRODUCTION_ENV, tmp_path)

    assert settings.is_production
    assert settings.sqlalchemy_url == "postgresql+psycopg://auth@db.internal/auth"
    assert settings.flask_mapping()["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"AUTHSERVER_SECRET_KEY": "short"},
            "AUTHSERVER_SECRET_KEY: must be at least 32 characters",
        ),
        ({"AUTHSERVER_ISSUER": "http://id.example.com"}, "AUTHSERVER_ISSUER: must be an https URL"),
        ({"AUTHSERVER_ISSUER": "https://id.example.com/?a=b"}, "must not contain a query"),
        ({"AUTHSERVER_ISSUER": "id.example.com"}, "expected an absolute http(s) URL"),
        ({"AUTHSERVER_ISSUER": "https://id.example.com/"}, "must not end with a slash"),
        ({"AUTHSERVER_ENCRYPTION_KEYS": "not-a-key"}, "key #1 is not base64url of 32 bytes"),
        ({"AUTHSERVER_DATABASE_URL": "mysql://db/auth"}, "driver 'mysql' is not supported"),
        ({"AUTHSERVER_REDIS_URL": "http://cache"}, "AUTHSERVER_REDIS_URL: expected a redis://"),
        ({"AUTHSERVER_MAIL_BACKEND": "console"}, "console is for development"),
        (
            {"AUTHSERVER_ARGON2_MEMORY_COST": "8192"},
            "AUTHSERVER_ARGON2_MEMORY_COST: production needs at least 19456 KiB (19 MiB)",
        ),
        ({"AUTHSERVER_LOG_FORMAT": "text"}, "AUTHSERVER_LOG_FORMAT: text is for development"),
    ],
)
def test_production_refuses_unsafe_values(
    tmp_path: Path, override: dict[str, str], expected: str
) -> None:
    problems = problems_of({**PRODUCTION_ENV, **override}, tmp_path)

    assert len(problems) == 1
    assert expected in problems[0]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"AUTHSERVER_PASSWORD_MIN_LENGTH": "7"},
            "AUTHSERVER_PASSWORD_MIN_LENGTH: must be between 8",
        ),
        (
            {"AUTHSERVER_PASSWORD_MIN_LENGTH": "65"},
            "AUTHSERVER_PASSWORD_MIN_LENGTH: must be between",
        ),
        (
            {"AUTHSERVER_ARGON2_PARALLELISM": "8", "AUTHSERVER_ARGON2_MEMORY_COST": "32"},
            "AUTHSERVER_ARGON2_MEMORY_COST: must be at least 8 KiB per lane (64 for "
            "AUTHSERVER_ARGON2_PARALLELISM=8)",
        ),
        ({"AUTHSERVER_ARGON2_TIME_COST": "0"}, "AUTHSERVER_ARGON2_TIME_COST: expected a positive"),
    ],
)
def test_password_settings_out_of_range_are_refused(
    tmp_path: Path, override: dict[str, str], expected: str
) -> None:
    problems = problems_of(override, tmp_path)

    assert len(problems) == 1
    assert expected in problems[0]


def test_password_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = load(
        {
            "AUTHSERVER_ARGON2_TIME_COST": "4",
            "AUTHSERVER_ARGON2_MEMORY_COST": "131072",
            "AUTHSERVER_ARGON2_PARALLELISM": "2",
            "AUTHSERVER_PASSWORD_MIN_LENGTH": "15",
        },
        tmp_path,
    )

    assert (settings.argon2_time_cost, settings.argon2_memory_cost) == (4, 131072)
    assert (settings.argon2_parallelism, settings.password_min_length) == (2, 15)


def test_wrong_types_are_reported_together_naming_each_variable(tmp_path: Path) -> None:
    problems = problems_of(
        {
            "AUTHSERVER_ACCESS_TOKEN_TTL": "ten minutes",
            "AUTHSERVER_AUTH_CODE_TTL": "-5",
            "AUTHSERVER_SECURE_COOKIES": "yes",
            "AUTHSERVER_ENV": "staging",
        },
        tmp_path,
    )

    assert problems == [
        "AUTHSERVER_ENV: expected one of development, production, got 'staging'",
        "AUTHSERVER_ACCESS_TOKEN_TTL: expected a whole number of seconds, got 'ten minutes'",
        "AUTHSERVER_AUTH_CODE_TTL: expected a positive number of seconds, got -5",
        "AUTHSERVER_SECURE_COOKIES: expected true, false, 1 or 0, got 'yes'",
    ]


def test_log_and_server_settings_are_read_and_checked(tmp_path: Path) -> None:
    settings = load(
        {
            "AUTHSERVER_LOG_FORMAT": "text",
            "AUTHSERVER_WORKER_CLASS": "gthread",
            "AUTHSERVER_THREADS": "4",
            "AUTHSERVER_WORKER_TIMEOUT": "45",
            "AUTHSERVER_GRACEFUL_TIMEOUT": "20",
            "AUTHSERVER_KEEPALIVE": "65",
            "AUTHSERVER_MAX_REQUESTS": "0",
        },
        tmp_path,
    )
    assert (settings.log_format, settings.worker_class, settings.threads) == ("text", "gthread", 4)
    assert (settings.worker_timeout, settings.graceful_timeout, settings.keepalive) == (45, 20, 65)
    assert settings.max_requests == 0

    problems = problems_of(
        {
            "AUTHSERVER_LOG_FORMAT": "xml",
            "AUTHSERVER_WORKER_CLASS": "eventlet",
            "AUTHSERVER_THREADS": "0",
            "AUTHSERVER_MAX_REQUESTS": "-1",
        },
        tmp_path,
    )
    assert problems == [
        "AUTHSERVER_WORKER_CLASS: expected one of gevent, sync, gthread, got 'eventlet'",
        "AUTHSERVER_THREADS: expected a positive number, got 0",
        "AUTHSERVER_MAX_REQUESTS: expected zero or a positive number, got -1",
        "AUTHSERVER_LOG_FORMAT: expected one of json, text, got 'xml'",
    ]


def test_the_totp_issuer_may_not_contain_a_colon(tmp_path: Path) -> None:
    [problem] = problems_of({"AUTHSERVER_TOTP_ISSUER": "Example: ID"}, tmp_path)

    assert problem == "AUTHSERVER_TOTP_ISSUER: must not contain a colon, got 'Example: ID'"
    assert load({"AUTHSERVER_TOTP_ISSUER": " Example ID "}, tmp_path).totp_issuer == "Example ID"


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("FALSE", False), ("0", False)]
)
def test_booleans_accept_true_false_one_zero(tmp_path: Path, raw: str, expected: bool) -> None:
    assert load({"AUTHSERVER_SECURE_COOKIES": raw}, tmp_path).secure_cookies is expected


def test_file_variant_reads_the_value_without_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("k" * 40 + "\n")

    settings = load({"AUTHSERVER_SECRET_KEY_FILE": str(secret_file)}, tmp_path)

    assert settings.secret_key == "k" * 40


def test_file_variant_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    [problem] = problems_of({"AUTHSERVER_SECRET_KEY_FILE": str(missing)}, tmp_path)

    assert problem.startswith("AUTHSERVER_SECRET_KEY_FILE: cannot read")


def test_value_and_file_variant_together_are_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("k" * 40)

    [problem] = problems_of(
        {"AUTHSERVER_SECRET_KEY": "k" * 40, "AUTHSERVER_SECRET_KEY_FILE": str(secret_file)},
        tmp_path,
    )

    assert "set either AUTHSERVER_SECRET_KEY or AUTHSERVER_SECRET_KEY_FILE" in problem


def test_unknown_variables_are_warned_about_but_test_variables_are_not(tmp_path: Path) -> None:
    settings = load(
        {"AUTHSERVER_ACESS_TOKEN_TTL": "60", "AUTHSERVER_TEST_DATABASE_URL": "x"}, tmp_path
    )

    assert settings.warnings == (
        "AUTHSERVER_ACESS_TOKEN_TTL: unknown setting (a typo?); it is ignored",
    )


def test_dotenv_is_read_in_development_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTHSERVER_ID_TOKEN_TTL=120\nAUTHSERVER_AUTH_CODE_TTL=30\n")

    settings = load({"AUTHSERVER_AUTH_CODE_TTL": "45"}, tmp_path)

    assert settings.id_token_ttl == 120
    assert settings.auth_code_ttl == 45


def test_dotenv_is_ignored_in_production(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTHSERVER_ID_TOKEN_TTL=120\n")

    assert load(PRODUCTION_ENV, tmp_path).id_token_ttl == 600


def test_refresh_idle_lifetime_cannot_exceed_absolute_lifetime(tmp_path: Path) -> None:
    [problem] = problems_of(
        {"AUTHSERVER_REFRESH_TOKEN_TTL": "100", "AUTHSERVER_REFRESH_TOKEN_IDLE_TTL": "200"},
        tmp_path,
    )

    assert problem == (
        "AUTHSERVER_REFRESH_TOKEN_IDLE_TTL: must not exceed AUTHSERVER_REFRESH_TOKEN_TTL"
    )


def test_the_refresh_reuse_grace_is_seconds_from_zero_to_five_minutes(tmp_path: Path) -> None:
    grace = "AUTHSERVER_REFRESH_REUSE_GRACE_SECONDS"

    assert load({grace: "0"}, tmp_path).refresh_reuse_grace_seconds == 0
    assert load({}, tmp_path).refresh_reuse_grace_seconds == 30
    assert problems_of({grace: "301"}, tmp_path) == [f"{grace}: must not exceed 300 seconds"]
    [negative] = problems_of({grace: "-1"}, tmp_path)
    assert negative.startswith(f"{grace}: expected zero or a positive number")


def test_rate_limits_take_flask_limiters_notation(tmp_path: Path) -> None:
    settings = load(
        {
            "AUTHSERVER_RATELIMIT_SIGNIN": "3/second;20 per minute",
            "AUTHSERVER_RATELIMIT_TOKEN": "1/day",
        },
        tmp_path,
    )

    assert settings.ratelimit_signin == "3/second;20 per minute"
    assert settings.ratelimit_token == "1/day"
    assert settings.ratelimit_enabled is True


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("AUTHSERVER_RATELIMIT_SIGNIN", "ten per minute", "expected limits like"),
        ("AUTHSERVER_RATELIMIT_MFA", "10/fortnight", "expected limits like"),
        ("AUTHSERVER_RATELIMIT_RESET", "", "expected limits like"),
        ("AUTHSERVER_RATELIMIT_TOKEN", "0/minute", "every limit must allow at least one request"),
    ],
)
def test_a_bad_rate_limit_is_a_config_error_naming_the_variable(
    tmp_path: Path, name: str, raw: str, reason: str
) -> None:
    [problem] = problems_of({name: raw}, tmp_path)

    assert problem.startswith(f"{name}: {reason}")


def test_a_first_lock_cannot_be_longer_than_the_longest(tmp_path: Path) -> None:
    [problem] = problems_of(
        {"AUTHSERVER_LOCKOUT_SECONDS": "7200", "AUTHSERVER_LOCKOUT_MAX_SECONDS": "3600"}, tmp_path
    )

    assert problem == "AUTHSERVER_LOCKOUT_SECONDS: must not exceed AUTHSERVER_LOCKOUT_MAX_SECONDS"


def test_describe_masks_every_secret(tmp_path: Path) -> None:
    settings = load(PRODUCTION_ENV, tmp_path)

    described = settings.describe()

    assert described["AUTHSERVER_SECRET_KEY"] == "********"
    assert described["AUTHSERVER_ENCRYPTION_KEYS"] == "********"
    assert described["AUTHSERVER_DATABASE_URL"] == "********"
    assert described["AUTHSERVER_ISSUER"] == "https://id.example.com"
    for secret in (
        PRODUCTION_ENV["AUTHSERVER_SECRET_KEY"],
        PRODUCTION_ENV["AUTHSERVER_ENCRYPTION_KEYS"],
    ):
        assert secret not in repr(described)


def test_env_template_documents_every_setting_with_its_default() -> None:
    template = (Path(__file__).resolve().parent.parent / ".env.template").read_text()

    for spec in setting_fields():
        default = spec.default
        if isinstance(default, tuple):
            default = ",".join(default)
        elif isinstance(default, bool):
            default = str(default).lower()
        elif default is None:
            default = ""
        assert f"# {env_name(spec.name)}={default}\n" in template


def test_passkey_origins_must_be_origins_on_the_relying_party(tmp_path: Path) -> None:
    issuer = {"AUTHSERVER_ISSUER": "https://id.example.com"}
    origins, rp_id = "AUTHSERVER_WEBAUTHN_ORIGINS", "AUTHSERVER_WEBAUTHN_RP_ID"

    accepted = load({**issuer, rp_id: "example.com", origins: "https://app.example.com"}, tmp_path)
    assert accepted.webauthn_origins == ("https://app.example.com",)
    assert problems_of({**issuer, origins: "https://evil.test"}, tmp_path) == [
        f"{origins}: 'https://evil.test' is not on the relying party 'id.example.com' ({rp_id})"
    ]
    assert problems_of({**issuer, origins: "https://id.example.com/login"}, tmp_path) == [
        f"{origins}: expected scheme://host[:port], got 'https://id.example.com/login'"
    ]
    assert problems_of({**issuer, rp_id: "example.com:443"}, tmp_path) == [
        f"{rp_id}: expected a host name, got 'example.com:443'"
    ]

"""Typed settings read from AUTHSERVER_* environment variables, validated once at start-up.

Every setting has an environment variable ``AUTHSERVER_<NAME>`` and a ``AUTHSERVER_<NAME>_FILE``
twin that names a file holding the value (container secrets). In development a ``.env`` file in
the working directory is read too, and missing secrets are generated once and kept in the instance
folder, so that a fresh clone runs with no set-up. Production refuses all of those conveniences.

How a setting is declared and parsed is in config_fields.py, the rules the values must meet in
config_checks.py, and the development secrets in dev_secrets.py. Nothing else in the package
reads ``os.environ``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from authserver.config_checks import (
    deployment_problems,
    missing_in_production,
    unknown_variable_warnings,
    validation_problems,
)
from authserver.config_features import FeatureSettings
from authserver.config_fields import (
    InvalidValue,
    parse_bool,
    parse_env,
    parse_key_list,
    parse_log_format,
    parse_log_level,
    parse_mail_backend,
    parse_networks,
    parse_non_negative_int,
    parse_optional_str,
    parse_positive_int,
    parse_registration,
    parse_seconds,
    parse_str,
    parse_totp_issuer,
    parse_worker_class,
    setting,
)

# Re-exported: callers name a setting's variable through this module.
from authserver.config_fields import env_name as env_name
from authserver.config_sources import raw_values, variable_names, variables_with_dotenv
from authserver.dev_secrets import UnreadableDevSecrets, load_or_create_dev_secrets

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """Start-up configuration is unusable; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --- the settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings(FeatureSettings):
    """The effective configuration. Build it with :meth:`from_env`; tests may construct it.

    Each feature's settings are declared in a module of its own (config_features.py), the rest
    here.
    """

    env: str = setting("development", parse_env, "development or production")
    issuer: str = setting(
        "http://127.0.0.1:5000",
        parse_str,
        "Public base URL; the `iss` of every token. https in production",
    )
    instance_path: str = setting(
        "instance",
        parse_str,
        "Folder for local state (SQLite file, development secrets)",
    )
    database_url: str = setting(
        "",
        parse_str,
        "SQLAlchemy URL; empty means a SQLite file in the instance folder",
        secret=True,
    )
    redis_url: str | None = setting(
        None,
        parse_optional_str,
        "Optional Redis for the rate-limit counters, shared by every instance",
        secret=True,
    )
    secret_key: str = setting(
        "", parse_str, "Signs cookies and CSRF tokens; at least 32 characters", secret=True
    )
    encryption_keys: tuple[str, ...] = setting(
        (),
        parse_key_list,
        "Comma-separated base64url 32-byte keys; the first encrypts, all decrypt",
        secret=True,
    )
    access_token_ttl: int = setting(600, parse_seconds, "Access token lifetime (seconds)")
    id_token_ttl: int = setting(600, parse_seconds, "ID token lifetime (seconds)")
    auth_code_ttl: int = setting(60, parse_seconds, "Authorization code lifetime (seconds)")
    device_code_ttl: int = setting(
        600, parse_seconds, "Device and user code lifetime, RFC 8628 `expires_in` (seconds)"
    )
    device_code_interval: int = setting(
        5, parse_seconds, "Seconds a device waits between polls (RFC 8628 `interval`)"
    )
    refresh_token_ttl: int = setting(
        30 * 86400, parse_seconds, "Refresh token absolute lifetime (seconds)"
    )
    refresh_token_idle_ttl: int = setting(
        7 * 86400, parse_seconds, "Refresh token idle lifetime (seconds)"
    )
    refresh_reuse_grace_seconds: int = setting(
        30,
        parse_non_negative_int,
        "Seconds in which a just-rotated refresh token presented again gets the same successor "
        "(a lost response forgiven once); 0: every reuse revokes the family",
    )
    session_idle_ttl: int = setting(1800, parse_seconds, "Browser session idle timeout (seconds)")
    session_absolute_ttl: int = setting(
        12 * 3600, parse_seconds, "Browser session absolute lifetime (seconds)"
    )
    reset_token_ttl: int = setting(
        1800, parse_seconds, "Password-reset link lifetime (seconds); short, it opens an account"
    )
    email_verification_ttl: int = setting(
        86400, parse_seconds, "Email-verification link lifetime (seconds)"
    )
    invitation_ttl: int = setting(
        7 * 86400, parse_seconds, "Invitation link (`user invite`) lifetime (seconds)"
    )
    registration: str = setting(
        "closed",
        parse_registration,
        "Who may make an account: closed (operators only), invite (`user invite` links) or "
        "open (a sign-up form too)",
    )
    audit_retention_days: int = setting(
        365,
        parse_positive_int,
        "Audit events older than this many days are deleted by `authserver maintenance purge`",
    )
    pkce_required_for_confidential_clients: bool = setting(
        True,
        parse_bool,
        "Demand PKCE from confidential clients too (RFC 9700 §2.1.1); public clients always",
    )
    dpop_nonce_required: bool = setting(
        False,
        parse_bool,
        "DPoP proofs at the token endpoint and userinfo must carry a server nonce (RFC 9449 §8)",
    )
    require_par: bool = setting(
        False,
        parse_bool,
        "Every client must push its authorization requests first (RFC 9126 PAR)",
    )
    key_rotation_interval: int = setting(
        90 * 86400, parse_seconds, "Age after which a signing key is replaced (seconds)"
    )
    key_auto_rotate: bool = setting(
        True,
        parse_bool,
        "Advance the key lifecycle inside the server once a minute (off: run `keys advance`)",
    )
    jwks_max_age: int = setting(
        900,
        parse_seconds,
        "JWKS Cache-Control max-age; a new key is published this long before use (seconds)",
    )
    workers: int = setting(2, parse_positive_int, "gunicorn worker processes for `serve`")
    worker_class: str = setting(
        "gevent",
        parse_worker_class,
        "gunicorn worker class for `serve`: gevent (slow clients hold no worker), sync or gthread",
    )
    threads: int = setting(
        1,
        parse_positive_int,
        "Threads per gunicorn worker; more than 1 makes gunicorn use gthread",
    )
    worker_timeout: int = setting(
        30,
        parse_seconds,
        "A request running this long is ended; a worker silent this long is replaced (seconds)",
    )
    graceful_timeout: int = setting(
        25,
        parse_seconds,
        "On stop or reload, time workers get to finish their requests (seconds); keep it below "
        "the orchestrator's own grace period",
    )
    keepalive: int = setting(
        75,
        parse_seconds,
        "How long an idle connection stays open, and the most a request head may take "
        "(seconds); longer than the load balancer's idle timeout",
    )
    max_requests: int = setting(
        0,
        parse_non_negative_int,
        "Replace a worker after about this many requests (10% jitter), 0 never; a guard "
        "against slow memory growth",
    )
    secure_cookies: bool = setting(
        False, parse_bool, "Secure/__Host- cookies; always on in production"
    )
    log_level: str = setting("INFO", parse_log_level, "Root log level")
    metrics_token: str | None = setting(
        None,
        parse_optional_str,
        "Bearer token a Prometheus scraper sends to /metrics; at least 32 characters",
        secret=True,
    )
    metrics_allow: tuple[str, ...] = setting(
        (),
        parse_networks,
        "IP addresses/CIDR networks whose direct connections may read /metrics",
    )
    log_format: str = setting(
        "json",
        parse_log_format,
        "json (one object per line on stdout), or text for reading on a development terminal",
    )
    mail_backend: str = setting(
        "console", parse_mail_backend, "smtp, console (development only) or file"
    )
    mail_from: str = setting(
        "authserver@localhost", parse_str, "From address of every message we send"
    )
    mail_file_dir: str = setting(
        "", parse_str, "Folder for the file mail backend; empty means <instance>/mail"
    )
    smtp_host: str = setting("localhost", parse_str, "SMTP server host")
    smtp_port: int = setting(587, parse_positive_int, "SMTP server port")
    smtp_username: str = setting("", parse_str, "SMTP user name; empty means no login")
    smtp_password: str = setting("", parse_str, "SMTP password", secret=True)
    smtp_starttls: bool = setting(True, parse_bool, "Upgrade the SMTP connection with STARTTLS")
    smtp_timeout: int = setting(10, parse_seconds, "SMTP connect and command timeout (seconds)")
    totp_issuer: str = setting(
        "",
        parse_totp_issuer,
        "Name authenticator apps show for our codes; empty means the brand name, else the "
        "issuer URL's host name",
    )
    mfa_pending_ttl: int = setting(
        300,
        parse_seconds,
        "How long a correct password waits for the second factor (seconds)",
    )
    password_min_length: int = setting(
        12,
        parse_positive_int,
        "Shortest password a user may choose (NIST SP 800-63B asks for at least 8)",
    )
    argon2_time_cost: int = setting(
        3, parse_positive_int, "argon2id passes over memory for each password hash"
    )
    argon2_memory_cost: int = setting(
        65536, parse_positive_int, "argon2id memory for each password hash (KiB)"
    )
    argon2_parallelism: int = setting(
        4, parse_positive_int, "argon2id lanes (threads) for each password hash"
    )
    lockout_threshold: int = setting(
        5,
        parse_positive_int,
        "Failed sign-ins in a row from unknown browsers before the account is locked to them",
    )
    lockout_device_threshold: int = setting(
        5,
        parse_positive_int,
        "Failed sign-ins in a row a recognised browser may make before it alone is locked",
    )
    lockout_seconds: int = setting(
        900, parse_seconds, "Length of a first lock; each further lock doubles it (seconds)"
    )
    lockout_max_seconds: int = setting(
        86400, parse_seconds, "Longest a lock can grow to; locks always end (seconds)"
    )
    new_device_alerts: bool = setting(
        True,
        parse_bool,
        "Mail the owner after a sign-in from a browser new to the account, with a link that "
        "ends every session and starts a password reset",
    )
    audit_ip_retention_days: int = setting(
        90,
        parse_positive_int,
        "Days an audit row keeps the IP address and user agent it came from (then removed)",
    )
    csp_report_only: bool = setting(
        False,
        parse_bool,
        "Send the Content-Security-Policy as report-only (roll-out: watch reports, then enforce)",
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        parse_networks,
        "Comma-separated IPs/CIDRs of proxies whose X-Forwarded-* headers are believed; "
        "empty trusts none",
    )
    trusted_proxy_hops: int = setting(
        1,
        parse_positive_int,
        "How many trusted proxies in a row append to X-Forwarded-For (ProxyFix's x_for)",
    )
    max_content_length: int = setting(
        64 * 1024,
        parse_positive_int,
        "Largest request body accepted (bytes); a larger one gets 413",
    )
    # Not settings: how the values came about, for check-config and warnings.
    warnings: tuple[str, ...] = field(default=(), compare=False)
    generated_secrets: bool = field(default=False, compare=False)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with our driver made explicit (psycopg 3 is the one we ship)."""
        url = self.database_url or _default_sqlite_url(self.instance_path)
        for bare in ("postgresql://", "postgres://"):
            if url.startswith(bare):
                return "postgresql+psycopg://" + url[len(bare) :]
        return url

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path = ".env"
    ) -> Settings:
        """Read, parse and validate; raise :class:`ConfigError` listing every problem at once."""
        source = variables_with_dotenv(environ, dotenv_path)
        problems: list[str] = []
        warnings: list[str] = []
        raw = raw_values(source, [spec.name for spec in setting_fields()], problems)
        warnings.extend(unknown_variable_warnings(source, known=known_variable_names()))
        values: dict[str, Any] = {}
        for spec in setting_fields():
            if spec.name not in raw:
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw[spec.name])
            except InvalidValue as exc:
                problems.append(f"{env_name(spec.name)}: {exc}")
        settings = cls(**values, warnings=tuple(warnings))
        missing = missing_in_production(settings, raw)
        problems.extend(f"{env_name(name)}: required in production" for name in sorted(missing))
        if not settings.is_production and not problems:
            settings = settings._with_development_secrets()
        problems.extend(deployment_problems(settings, missing=missing))
        problems.extend(validation_problems(settings))
        if problems:
            raise ConfigError(problems)
        return settings

    def _with_development_secrets(self) -> Settings:
        """Fill missing secrets from (or into) the instance folder: `make run` needs no set-up."""
        if self.secret_key and self.encryption_keys:
            return self
        try:
            stored = load_or_create_dev_secrets(Path(self.instance_path))
        except UnreadableDevSecrets as exc:
            raise ConfigError([str(exc)]) from None
        return replace(
            self,
            secret_key=self.secret_key or stored["secret_key"],
            encryption_keys=self.encryption_keys or (stored["encryption_key"],),
            generated_secrets=True,
        )

    def flask_mapping(self) -> dict[str, Any]:
        """The Flask config keys these settings imply."""
        secure = self.secure_cookies or self.is_production
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.sqlalchemy_url,
            "SESSION_COOKIE_SECURE": secure,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "WTF_CSRF_TIME_LIMIT": self.session_absolute_ttl,
        }

    def describe(self) -> dict[str, Any]:
        """Every setting by its variable name, secrets masked: what check-config prints."""
        described: dict[str, Any] = {}
        for spec in setting_fields():
            value = getattr(self, spec.name)
            if spec.metadata["secret"] and value:
                value = "********"
            elif isinstance(value, tuple):
                value = list(value)
            described[env_name(spec.name)] = value
        if not self.database_url:
            described[env_name("database_url")] = self.sqlalchemy_url
        return described


# --- helpers -------------------------------------------------------------------------------------


# Where an app keeps its Settings: put there once by create_app, read by everything else.
_SETTINGS_EXTENSION = "authserver.settings"


def attach_settings(app: Flask, settings: Settings) -> None:
    app.extensions[_SETTINGS_EXTENSION] = settings


def app_settings(app: Flask) -> Settings:
    """The settings ``app`` was built with (for init_app functions, which get the app)."""
    settings: Settings = app.extensions[_SETTINGS_EXTENSION]
    return settings


def current_settings() -> Settings:
    """The settings of the app handling this request or command (an app context is needed)."""
    return app_settings(current_app)


def setting_fields() -> list[Any]:
    """The dataclass fields that are real settings (they carry a parser)."""
    return [spec for spec in fields(Settings) if "parse" in spec.metadata]


def known_variable_names() -> set[str]:
    return variable_names(spec.name for spec in setting_fields())


def _default_sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path).resolve() / "authserver.sqlite3")

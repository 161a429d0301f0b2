"""Typed settings read from AUTHSERVER_* environment variables, validated once at start-up.

Every setting has an environment variable ``AUTHSERVER_<NAME>`` and a ``AUTHSERVER_<NAME>_FILE``
twin that names a file holding the value (container secrets). In development a ``.env`` file in
the working directory is read too, and missing secrets are generated once and kept in the instance
folder, so that a fresh clone runs with no set-up. Production refuses all of those conveniences.

Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values
from flask import Flask, current_app
from limits import parse_many

PREFIX = "AUTHSERVER_"
FILE_SUFFIX = "_FILE"
# AUTHSERVER_TEST_* variables belong to the test suite, not to the server.
RESERVED_PREFIXES = (PREFIX + "TEST_",)
ENVIRONMENTS = ("development", "production")
DEV_SECRETS_FILENAME = "dev-secrets.json"
MIN_SECRET_KEY_LENGTH = 32
# The /metrics bearer token is a password that lives in a scraper's config: long and random.
MIN_METRICS_TOKEN_LENGTH = 32
# Not an AUTHSERVER_ setting: prometheus-client's own variable. `authserver serve` sets it for
# gunicorn's workers, so that they share their counters (serving/gunicorn_metrics.py).
METRICS_MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# OWASP Password Storage Cheat Sheet: argon2id needs at least 19 MiB per hash to resist GPUs.
MIN_PRODUCTION_ARGON2_MEMORY_KIB = 19 * 1024
ENCRYPTION_KEY_BYTES = 32  # AES-256-GCM
MIN_CONTENT_LENGTH = 4096
# Development defaults that are wrong for production: each must be set explicitly there.
REQUIRED_IN_PRODUCTION = ("issuer", "database_url", "secret_key", "encryption_keys", "mail_backend")

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """Start-up configuration is unusable; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Invalid(ValueError):
    """A single value could not be parsed; the message says what was expected."""


# --- parsers: raw string -> typed value, raising _Invalid with a reason -------------------------


def _parse_str(raw: str) -> str:
    return raw


def _parse_optional_str(raw: str) -> str | None:
    return raw or None


def _parse_seconds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"expected a whole number of seconds, got {raw!r}") from None
    if value <= 0:
        raise _Invalid(f"expected a positive number of seconds, got {value}")
    return value


def _parse_positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise _Invalid(f"expected a positive number, got {value}")
    return value


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise _Invalid(f"expected true, false, 1 or 0, got {raw!r}")


def _parse_key_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated IP addresses and CIDR networks, each normalised (``10.0.0.0/8``)."""
    networks = []
    for part in _parse_key_list(raw):
        try:
            networks.append(str(ipaddress.ip_network(part)))
        except ValueError:
            # ip_network refuses host bits ("10.0.0.1/8"): most likely a typo for a network.
            raise _Invalid(
                f"expected IP addresses or CIDR networks joined by commas, got {part!r}"
            ) from None
    return tuple(networks)


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise _Invalid(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return level


LOG_FORMATS = ("json", "text")


def _parse_log_format(raw: str) -> str:
    if raw not in LOG_FORMATS:
        raise _Invalid(f"expected one of {', '.join(LOG_FORMATS)}, got {raw!r}")
    return raw


# gunicorn's worker classes we support: gevent (many connections per process, so slow clients
# hold no worker; docs/performance.md, "Server choice"), sync (one request per process at a
# time) and gthread (threads). All run the app unchanged; it is thread- and greenlet-safe.
WORKER_CLASSES = ("gevent", "sync", "gthread")


def _parse_worker_class(raw: str) -> str:
    if raw not in WORKER_CLASSES:
        raise _Invalid(f"expected one of {', '.join(WORKER_CLASSES)}, got {raw!r}")
    return raw


def _parse_non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise _Invalid(f"expected zero or a positive number, got {value}")
    return value


MAIL_BACKENDS = ("smtp", "console", "file")


def _parse_mail_backend(raw: str) -> str:
    if raw not in MAIL_BACKENDS:
        raise _Invalid(f"expected one of {', '.join(MAIL_BACKENDS)}, got {raw!r}")
    return raw


def _parse_totp_issuer(raw: str) -> str:
    # Key URI format: the label is "issuer:account", so a colon in the issuer would split it.
    if ":" in raw:
        raise _Invalid(f"must not contain a colon, got {raw!r}")
    return raw.strip()


def _parse_rate_limit(raw: str) -> str:
    """Flask-Limiter's notation, several limits joined by ';' (e.g. ``10/minute;100/hour``)."""
    try:
        items = parse_many(raw)
    except ValueError:
        raise _Invalid(
            f"expected limits like '10/minute;100/hour' (amount/unit, joined by ';'), got {raw!r}"
        ) from None
    if any(item.amount <= 0 for item in items):
        # A zero limit refuses everything: a typo, never a policy.
        raise _Invalid(f"every limit must allow at least one request, got {raw!r}")
    return raw


def _parse_env(raw: str) -> str:
    if raw not in ENVIRONMENTS:
        raise _Invalid(f"expected one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return raw


def _setting(
    default: Any,  # Any: each field's own annotation gives the real type
    parse: Callable[[str], Any],
    help: str,
    *,
    secret: bool = False,
) -> Any:
    return field(default=default, metadata={"parse": parse, "help": help, "secret": secret})


# --- the settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The effective configuration. Build it with :meth:`from_env`; tests may construct it."""

    env: str = _setting("development", _parse_env, "development or production")
    issuer: str = _setting(
        "http://127.0.0.1:5000",
        _parse_str,
        "Public base URL; the `iss` of every token. https in production",
    )
    instance_path: str = _setting(
        "instance",
        _parse_str,
        "Folder for local state (SQLite file, development secrets)",
    )
    database_url: str = _setting(
        "",
        _parse_str,
        "SQLAlchemy URL; empty means a SQLite file in the instance folder",
        secret=True,
    )
    redis_url: str | None = _setting(
        None,
        _parse_optional_str,
        "Optional Redis for the rate-limit counters, shared by every instance",
        secret=True,
    )
    secret_key: str = _setting(
        "", _parse_str, "Signs cookies and CSRF tokens; at least 32 characters", secret=True
    )
    encryption_keys: tuple[str, ...] = _setting(
        (),
        _parse_key_list,
        "Comma-separated base64url 32-byte keys; the first encrypts, all decrypt",
        secret=True,
    )
    access_token_ttl: int = _setting(600, _parse_seconds, "Access token lifetime (seconds)")
    id_token_ttl: int = _setting(600, _parse_seconds, "ID token lifetime (seconds)")
    auth_code_ttl: int = _setting(60, _parse_seconds, "Authorization code lifetime (seconds)")
    refresh_token_ttl: int = _setting(
        30 * 86400, _parse_seconds, "Refresh token absolute lifetime (seconds)"
    )
    refresh_token_idle_ttl: int = _setting(
        7 * 86400, _parse_seconds, "Refresh token idle lifetime (seconds)"
    )
    session_idle_ttl: int = _setting(1800, _parse_seconds, "Browser session idle timeout (seconds)")
    session_absolute_ttl: int = _setting(
        12 * 3600, _parse_seconds, "Browser session absolute lifetime (seconds)"
    )
    reset_token_ttl: int = _setting(
        1800, _parse_seconds, "Password-reset link lifetime (seconds); short, it opens an account"
    )
    email_verification_ttl: int = _setting(
        86400, _parse_seconds, "Email-verification link lifetime (seconds)"
    )
    audit_retention_days: int = _setting(
        365,
        _parse_positive_int,
        "Audit events older than this many days are deleted by `authserver maintenance purge`",
    )
    pkce_required_for_confidential_clients: bool = _setting(
        True,
        _parse_bool,
        "Demand PKCE from confidential clients too (RFC 9700 §2.1.1); public clients always",
    )
    key_rotation_interval: int = _setting(
        90 * 86400, _parse_seconds, "Age after which a signing key is replaced (seconds)"
    )
    key_auto_rotate: bool = _setting(
        True,
        _parse_bool,
        "Advance the key lifecycle inside the server once a minute (off: run `keys advance`)",
    )
    jwks_max_age: int = _setting(
        900,
        _parse_seconds,
        "JWKS Cache-Control max-age; a new key is published this long before use (seconds)",
    )
    workers: int = _setting(2, _parse_positive_int, "gunicorn worker processes for `serve`")
    worker_class: str = _setting(
        "gevent",
        _parse_worker_class,
        "gunicorn worker class for `serve`: gevent (slow clients hold no worker), sync or gthread",
    )
    threads: int = _setting(
        1,
        _parse_positive_int,
        "Threads per gunicorn worker; more than 1 makes gunicorn use gthread",
    )
    worker_timeout: int = _setting(
        30,
        _parse_seconds,
        "A request running this long is ended; a worker silent this long is replaced (seconds)",
    )
    graceful_timeout: int = _setting(
        25,
        _parse_seconds,
        "On stop or reload, time workers get to finish their requests (seconds); keep it below "
        "the orchestrator's own grace period",
    )
    keepalive: int = _setting(
        75,
        _parse_seconds,
        "How long an idle connection stays open, and the most a request head may take "
        "(seconds); longer than the load balancer's idle timeout",
    )
    max_requests: int = _setting(
        0,
        _parse_non_negative_int,
        "Replace a worker after about this many requests (10% jitter), 0 never; a guard "
        "against slow memory growth",
    )
    secure_cookies: bool = _setting(
        False, _parse_bool, "Secure/__Host- cookies; always on in production"
    )
    log_level: str = _setting("INFO", _parse_log_level, "Root log level")
    metrics_token: str | None = _setting(
        None,
        _parse_optional_str,
        "Bearer token a Prometheus scraper sends to /metrics; at least 32 characters",
        secret=True,
    )
    metrics_allow: tuple[str, ...] = _setting(
        (),
        _parse_networks,
        "IP addresses/CIDR networks whose direct connections may read /metrics",
    )
    log_format: str = _setting(
        "json",
        _parse_log_format,
        "json (one object per line on stdout), or text for reading on a development terminal",
    )
    mail_backend: str = _setting(
        "console", _parse_mail_backend, "smtp, console (development only) or file"
    )
    mail_from: str = _setting(
        "authserver@localhost", _parse_str, "From address of every message we send"
    )
    mail_file_dir: str = _setting(
        "", _parse_str, "Folder for the file mail backend; empty means <instance>/mail"
    )
    smtp_host: str = _setting("localhost", _parse_str, "SMTP server host")
    smtp_port: int = _setting(587, _parse_positive_int, "SMTP server port")
    smtp_username: str = _setting("", _parse_str, "SMTP user name; empty means no login")
    smtp_password: str = _setting("", _parse_str, "SMTP password", secret=True)
    smtp_starttls: bool = _setting(True, _parse_bool, "Upgrade the SMTP connection with STARTTLS")
    smtp_timeout: int = _setting(10, _parse_seconds, "SMTP connect and command timeout (seconds)")
    totp_issuer: str = _setting(
        "",
        _parse_totp_issuer,
        "Name authenticator apps show for our codes; empty means the issuer URL's host name",
    )
    mfa_pending_ttl: int = _setting(
        300,
        _parse_seconds,
        "How long a correct password waits for the second factor (seconds)",
    )
    password_min_length: int = _setting(
        12,
        _parse_positive_int,
        "Shortest password a user may choose (NIST SP 800-63B asks for at least 8)",
    )
    argon2_time_cost: int = _setting(
        3, _parse_positive_int, "argon2id passes over memory for each password hash"
    )
    argon2_memory_cost: int = _setting(
        65536, _parse_positive_int, "argon2id memory for each password hash (KiB)"
    )
    argon2_parallelism: int = _setting(
        4, _parse_positive_int, "argon2id lanes (threads) for each password hash"
    )
    lockout_threshold: int = _setting(
        5,
        _parse_positive_int,
        "Failed sign-ins in a row from unknown browsers before the account is locked to them",
    )
    lockout_device_threshold: int = _setting(
        5,
        _parse_positive_int,
        "Failed sign-ins in a row a recognised browser may make before it alone is locked",
    )
    lockout_seconds: int = _setting(
        900, _parse_seconds, "Length of a first lock; each further lock doubles it (seconds)"
    )
    lockout_max_seconds: int = _setting(
        86400, _parse_seconds, "Longest a lock can grow to; locks always end (seconds)"
    )
    audit_ip_retention_days: int = _setting(
        90,
        _parse_positive_int,
        "Days an audit row keeps the IP address and user agent it came from (then removed)",
    )
    ratelimit_enabled: bool = _setting(
        True, _parse_bool, "Enforce the AUTHSERVER_RATELIMIT_* limits"
    )
    ratelimit_signin: str = _setting(
        "10/minute;100/hour",
        _parse_rate_limit,
        "Sign-in attempts (POST /login, and the signed-in forms that ask for the password "
        "again: password change, account deletion), counted per IP address and per account",
    )
    ratelimit_mfa: str = _setting(
        "10/minute;50/hour",
        _parse_rate_limit,
        "Second-factor attempts, counted per IP address and per account",
    )
    ratelimit_reset: str = _setting(
        "5/minute;20/hour",
        _parse_rate_limit,
        "Password-reset requests and submissions, counted per IP address and per account",
    )
    ratelimit_token: str = _setting(
        "300/minute",
        _parse_rate_limit,
        "Token endpoint requests, counted per client (and failed client logins per IP)",
    )
    ratelimit_csp_report: str = _setting(
        "60/minute",
        _parse_rate_limit,
        "Content-Security-Policy violation reports (POST /csp-report), counted per IP address",
    )
    ratelimit_key_prefix: str = _setting(
        "authserver-ratelimit",
        _parse_str,
        "Prefix of rate-limit keys in Redis, so deployments sharing a Redis stay apart",
    )

    csp_report_only: bool = _setting(
        False,
        _parse_bool,
        "Send the Content-Security-Policy as report-only (roll-out: watch reports, then enforce)",
    )
    trusted_proxies: tuple[str, ...] = _setting(
        (),
        _parse_networks,
        "Comma-separated IPs/CIDRs of proxies whose X-Forwarded-* headers are believed; "
        "empty trusts none",
    )
    trusted_proxy_hops: int = _setting(
        1,
        _parse_positive_int,
        "How many trusted proxies in a row append to X-Forwarded-For (ProxyFix's x_for)",
    )
    max_content_length: int = _setting(
        64 * 1024,
        _parse_positive_int,
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
        source = dict(os.environ if environ is None else environ)
        problems: list[str] = []
        warnings: list[str] = []
        if source.get(PREFIX + "ENV", "development") == "development":
            # .env is a development convenience; the real environment always wins.
            for key, value in dotenv_values(dotenv_path).items():
                if value is not None:
                    source.setdefault(key, value)
        raw = _collect_raw_values(source, problems)
        warnings.extend(_unknown_variable_warnings(source))
        values: dict[str, Any] = {}
        for spec in setting_fields():
            if spec.name not in raw:
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw[spec.name])
            except _Invalid as exc:
                problems.append(f"{env_name(spec.name)}: {exc}")
        settings = cls(**values, warnings=tuple(warnings))
        missing = set()
        if settings.is_production:
            missing = {name for name in REQUIRED_IN_PRODUCTION if not raw.get(name)}
            problems.extend(f"{env_name(name)}: required in production" for name in sorted(missing))
        elif not problems:
            settings = settings._with_development_secrets()
        if "issuer" not in missing:
            problems.extend(_issuer_problems(settings.issuer, production=settings.is_production))
        if (
            settings.is_production
            and "mail_backend" not in missing
            and settings.mail_backend == "console"
        ):
            # The console backend prints reset links to stdout: fine on a laptop, a leak in a log.
            problems.append(f"{env_name('mail_backend')}: console is for development; use smtp")
        if settings.is_production and settings.log_format != "json":
            # Log pipelines parse the lines; a text line is one they cannot read.
            problems.append(f"{env_name('log_format')}: text is for development; use json")
        problems.extend(settings._validation_problems())
        if problems:
            raise ConfigError(problems)
        return settings

    def _with_development_secrets(self) -> Settings:
        """Fill missing secrets from (or into) the instance folder: `make run` needs no set-up."""
        if self.secret_key and self.encryption_keys:
            return self
        stored = load_or_create_dev_secrets(Path(self.instance_path))
        return _replace(
            self,
            secret_key=self.secret_key or stored["secret_key"],
            encryption_keys=self.encryption_keys or (stored["encryption_key"],),
            generated_secrets=True,
        )

    def _validation_problems(self) -> list[str]:
        problems = _database_url_problems(self.sqlalchemy_url)
        if self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            problems.append(
                f"{env_name('redis_url')}: expected a redis://, rediss:// or unix:// URL"
            )
        # An empty secret is reported by the production check; development fills its own.
        if self.secret_key and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"{env_name('secret_key')}: must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(use `authserver generate-secrets`)"
            )
        for position, key in enumerate(self.encryption_keys, start=1):
            if not is_valid_encryption_key(key):
                problems.append(
                    f"{env_name('encryption_keys')}: key #{position} is not base64url of "
                    f"{ENCRYPTION_KEY_BYTES} bytes (use `authserver generate-secrets`)"
                )
        if self.refresh_token_idle_ttl > self.refresh_token_ttl:
            problems.append(
                f"{env_name('refresh_token_idle_ttl')}: must not exceed "
                f"{env_name('refresh_token_ttl')}"
            )
        if self.lockout_seconds > self.lockout_max_seconds:
            problems.append(
                f"{env_name('lockout_seconds')}: must not exceed {env_name('lockout_max_seconds')}"
            )
        problems.extend(self._password_problems())
        if self.max_content_length < MIN_CONTENT_LENGTH:
            # Sign-in, consent and token requests are a few KB; less would refuse real requests.
            problems.append(
                f"{env_name('max_content_length')}: must be at least {MIN_CONTENT_LENGTH} bytes"
            )
        if self.metrics_token is not None and len(self.metrics_token) < MIN_METRICS_TOKEN_LENGTH:
            problems.append(
                f"{env_name('metrics_token')}: must be at least {MIN_METRICS_TOKEN_LENGTH} "
                "characters (a random one: python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        if not self.ratelimit_key_prefix:
            problems.append(f"{env_name('ratelimit_key_prefix')}: must not be empty")
        if self.session_idle_ttl > self.session_absolute_ttl:
            problems.append(
                f"{env_name('session_idle_ttl')}: must not exceed "
                f"{env_name('session_absolute_ttl')}"
            )
        return problems

    def _password_problems(self) -> list[str]:
        problems = []
        # SP 800-63B §5.1.1.2: memorized secrets SHALL be at least 8 characters, and verifiers
        # SHOULD accept at least 64; a minimum above that would refuse what must be allowed.
        if not 8 <= self.password_min_length <= 64:
            problems.append(f"{env_name('password_min_length')}: must be between 8 and 64")
        # RFC 9106 §3.1: memory is at least 8 KiB per lane.
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            problems.append(
                f"{env_name('argon2_memory_cost')}: must be at least 8 KiB per lane "
                f"({8 * self.argon2_parallelism} for {env_name('argon2_parallelism')}="
                f"{self.argon2_parallelism})"
            )
        if self.is_production and self.argon2_memory_cost < MIN_PRODUCTION_ARGON2_MEMORY_KIB:
            # OWASP's Password Storage Cheat Sheet: argon2id with at least 19 MiB. Less is for
            # tests and development machines only.
            problems.append(
                f"{env_name('argon2_memory_cost')}: production needs at least "
                f"{MIN_PRODUCTION_ARGON2_MEMORY_KIB} KiB (19 MiB)"
            )
        return problems

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


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def known_variable_names() -> set[str]:
    names = {env_name(spec.name) for spec in setting_fields()}
    return names | {name + FILE_SUFFIX for name in names}


def metrics_multiprocess_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """The folder gunicorn's workers share their metrics in; None in a single process."""
    source = os.environ if environ is None else environ
    return source.get(METRICS_MULTIPROCESS_VARIABLE) or None


def _collect_raw_values(source: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for spec in setting_fields():
        name = env_name(spec.name)
        file_name = name + FILE_SUFFIX
        if name in source and file_name in source:
            problems.append(f"{name}: set either {name} or {file_name}, not both")
            continue
        if file_name in source:
            try:
                # Secrets files usually end with a newline that is not part of the value.
                raw[spec.name] = Path(source[file_name]).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                problems.append(f"{file_name}: cannot read {source[file_name]!r} ({exc.strerror})")
            except UnicodeDecodeError:
                problems.append(f"{file_name}: {source[file_name]!r} is not UTF-8 text")
        elif name in source:
            raw[spec.name] = source[name]
    return raw


def _unknown_variable_warnings(source: Mapping[str, str]) -> list[str]:
    known = known_variable_names()
    return [
        f"{name}: unknown setting (a typo?); it is ignored"
        for name in sorted(source)
        if name.startswith(PREFIX) and name not in known and not name.startswith(RESERVED_PREFIXES)
    ]


def _issuer_problems(issuer: str, *, production: bool) -> list[str]:
    name = env_name("issuer")
    parts = urlsplit(issuer)
    # OIDC Discovery 1.0 §3: the issuer is a URL with scheme and host and no query or fragment.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"{name}: expected an absolute http(s) URL, got {issuer!r}"]
    if parts.query or parts.fragment:
        return [f"{name}: must not contain a query or fragment"]
    if issuer.endswith("/"):
        # Endpoint URLs are the issuer plus a path; "https://id.example.com/" would give "//".
        return [f"{name}: must not end with a slash"]
    if production and parts.scheme != "https":
        return [f"{name}: must be an https URL in production"]
    return []


def _database_url_problems(url: str) -> list[str]:
    scheme = url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql+psycopg"):
        return [
            f"{env_name('database_url')}: expected a sqlite:/// or postgresql:// URL "
            f"(driver {scheme!r} is not supported)"
        ]
    return []


def _default_sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path).resolve() / "authserver.sqlite3")


def _replace(settings: Settings, **changes: Any) -> Settings:
    current = {spec.name: getattr(settings, spec.name) for spec in fields(settings)}
    current.update(changes)
    return Settings(**current)


def is_valid_encryption_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) == ENCRYPTION_KEY_BYTES
    except ValueError:
        return False


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def new_encryption_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(ENCRYPTION_KEY_BYTES)).decode().rstrip("=")


def load_or_create_dev_secrets(instance_path: Path) -> dict[str, str]:
    """Development-only secrets kept in the instance folder (mode 0600) across restarts."""
    path = instance_path / DEV_SECRETS_FILENAME
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fresh = {"secret_key": new_secret_key(), "encryption_key": new_encryption_key()}
        descriptor, temporary = tempfile.mkstemp(dir=instance_path, prefix=".dev-secrets-")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp makes it 0600
            json.dump(fresh, handle)
        # link() fails if the name exists, so two processes starting together agree on one file
        # and nobody ever reads a half-written one.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        os.unlink(temporary)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return {
            "secret_key": str(stored["secret_key"]),
            "encryption_key": str(stored["encryption_key"]),
        }
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            [f"{path}: unreadable development secrets; delete the file to make new ones"]
        ) from None

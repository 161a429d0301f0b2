"""The rules settings must meet beyond their own parsing: production's demands, values that
contradict each other, secrets too short, and variables we do not know.

Each function returns one line per problem (or warning), naming the variable to fix, so that
:meth:`authserver.config.Settings.from_env` can report every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from authserver.config_fields import PREFIX, env_name
from authserver.dev_secrets import ENCRYPTION_KEY_BYTES, is_valid_encryption_key

if TYPE_CHECKING:
    from authserver.config import Settings

# AUTHSERVER_TEST_* variables belong to the test suite, not to the server.
RESERVED_PREFIXES = (PREFIX + "TEST_",)
# Development defaults that are wrong for production: each must be set explicitly there.
REQUIRED_IN_PRODUCTION = ("issuer", "database_url", "secret_key", "encryption_keys", "mail_backend")
MIN_SECRET_KEY_LENGTH = 32
# The /metrics bearer token is a password that lives in a scraper's config: long and random.
MIN_METRICS_TOKEN_LENGTH = 32
# OWASP Password Storage Cheat Sheet: argon2id needs at least 19 MiB per hash to resist GPUs.
MIN_PRODUCTION_ARGON2_MEMORY_KIB = 19 * 1024
MIN_CONTENT_LENGTH = 4096
# A lost token response is retried within seconds; minutes of grace would only serve a thief.
MAX_REFRESH_REUSE_GRACE_SECONDS = 300


def unknown_variable_warnings(source: Mapping[str, str], *, known: Set[str]) -> list[str]:
    return [
        f"{name}: unknown setting (a typo?); it is ignored"
        for name in sorted(source)
        if name.startswith(PREFIX) and name not in known and not name.startswith(RESERVED_PREFIXES)
    ]


def missing_in_production(settings: Settings, raw: Mapping[str, str]) -> set[str]:
    """The settings production requires that were not set (none outside production)."""
    if not settings.is_production:
        return set()
    return {name for name in REQUIRED_IN_PRODUCTION if not raw.get(name)}


def deployment_problems(settings: Settings, *, missing: Set[str]) -> list[str]:
    """The issuer, and development choices refused in production (``missing`` ones were
    reported already)."""
    problems = []
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
    return problems


def validation_problems(settings: Settings) -> list[str]:
    problems = _database_url_problems(settings.sqlalchemy_url)
    redis_url = settings.redis_url
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        problems.append(f"{env_name('redis_url')}: expected a redis://, rediss:// or unix:// URL")
    # An empty secret is reported by the production check; development fills its own.
    if settings.secret_key and len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"{env_name('secret_key')}: must be at least {MIN_SECRET_KEY_LENGTH} characters "
            "(use `authserver generate-secrets`)"
        )
    for position, key in enumerate(settings.encryption_keys, start=1):
        if not is_valid_encryption_key(key):
            problems.append(
                f"{env_name('encryption_keys')}: key #{position} is not base64url of "
                f"{ENCRYPTION_KEY_BYTES} bytes (use `authserver generate-secrets`)"
            )
    if settings.refresh_token_idle_ttl > settings.refresh_token_ttl:
        problems.append(
            f"{env_name('refresh_token_idle_ttl')}: must not exceed {env_name('refresh_token_ttl')}"
        )
    if settings.refresh_reuse_grace_seconds > MAX_REFRESH_REUSE_GRACE_SECONDS:
        # Reuse detection (RFC 9700 §4.14.2) is what the grace suspends: it stays a moment.
        problems.append(
            f"{env_name('refresh_reuse_grace_seconds')}: must not exceed "
            f"{MAX_REFRESH_REUSE_GRACE_SECONDS} seconds"
        )
    if settings.translations_dir and not Path(settings.translations_dir).is_dir():
        problems.append(f"{env_name('translations_dir')}: no such folder")
    # Imported here: authserver.branding's views need authserver.config, which imports us.
    from authserver.branding.checks import branding_problems

    problems.extend(branding_problems(settings))
    if settings.lockout_seconds > settings.lockout_max_seconds:
        problems.append(
            f"{env_name('lockout_seconds')}: must not exceed {env_name('lockout_max_seconds')}"
        )
    problems.extend(_password_problems(settings))
    problems.extend(_passkey_problems(settings))
    if settings.max_content_length < MIN_CONTENT_LENGTH:
        # Sign-in, consent and token requests are a few KB; less would refuse real requests.
        problems.append(
            f"{env_name('max_content_length')}: must be at least {MIN_CONTENT_LENGTH} bytes"
        )
    metrics_token = settings.metrics_token
    if metrics_token is not None and len(metrics_token) < MIN_METRICS_TOKEN_LENGTH:
        problems.append(
            f"{env_name('metrics_token')}: must be at least {MIN_METRICS_TOKEN_LENGTH} "
            "characters (a random one: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    if not settings.ratelimit_key_prefix:
        problems.append(f"{env_name('ratelimit_key_prefix')}: must not be empty")
    if settings.session_idle_ttl > settings.session_absolute_ttl:
        problems.append(
            f"{env_name('session_idle_ttl')}: must not exceed {env_name('session_absolute_ttl')}"
        )
    return problems


def _password_problems(settings: Settings) -> list[str]:
    problems = []
    # SP 800-63B §5.1.1.2: memorized secrets SHALL be at least 8 characters, and verifiers
    # SHOULD accept at least 64; a minimum above that would refuse what must be allowed.
    if not 8 <= settings.password_min_length <= 64:
        problems.append(f"{env_name('password_min_length')}: must be between 8 and 64")
    # RFC 9106 §3.1: memory is at least 8 KiB per lane.
    if settings.argon2_memory_cost < 8 * settings.argon2_parallelism:
        problems.append(
            f"{env_name('argon2_memory_cost')}: must be at least 8 KiB per lane "
            f"({8 * settings.argon2_parallelism} for {env_name('argon2_parallelism')}="
            f"{settings.argon2_parallelism})"
        )
    if settings.is_production and settings.argon2_memory_cost < MIN_PRODUCTION_ARGON2_MEMORY_KIB:
        # OWASP's Password Storage Cheat Sheet: argon2id with at least 19 MiB. Less is for
        # tests and development machines only.
        problems.append(
            f"{env_name('argon2_memory_cost')}: production needs at least "
            f"{MIN_PRODUCTION_ARGON2_MEMORY_KIB} KiB (19 MiB)"
        )
    return problems


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


def _passkey_problems(settings: Settings) -> list[str]:
    """WebAuthn Level 3 §5.1.3 step 9 (§13.4.9): a page may only use passkeys of an RP id that
    is its own host or a registrable suffix of it, so each origin must be under the RP id."""
    rp_id = settings.webauthn_rp_id or (urlsplit(settings.issuer).hostname or "")
    problems = []
    if settings.webauthn_rp_id and (":" in rp_id or "/" in rp_id):
        problems.append(f"{env_name('webauthn_rp_id')}: expected a host name, got {rp_id!r}")
    for origin in settings.webauthn_origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host or parts.path or parts.query:
            problems.append(
                f"{env_name('webauthn_origins')}: expected scheme://host[:port], got {origin!r}"
            )
        elif host != rp_id and not host.endswith("." + rp_id):
            problems.append(
                f"{env_name('webauthn_origins')}: {origin!r} is not on the relying party "
                f"{rp_id!r} ({env_name('webauthn_rp_id')})"
            )
    return problems


def _database_url_problems(url: str) -> list[str]:
    scheme = url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql+psycopg"):
        return [
            f"{env_name('database_url')}: expected a sqlite:/// or postgresql:// URL "
            f"(driver {scheme!r} is not supported)"
        ]
    return []

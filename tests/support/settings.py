"""Settings for a test app: real storage in a temporary folder, fixed secrets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from authserver.config import Settings
from authserver.dev_secrets import new_encryption_key

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
# The limiter stays on everywhere (its code runs in every test) but no ordinary test gets near
# these; tests of the limits themselves set their own (tests/ratelimit/test_limits.py).
UNREACHED_RATE_LIMIT = "10000/minute"


def make_test_settings(tmp_path: Path, *, database_url: str, **overrides: Any) -> Settings:
    base = Settings(
        env="development",
        issuer="http://localhost",
        instance_path=str(tmp_path / "instance"),
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        encryption_keys=(new_encryption_key(),),
        log_level="WARNING",
        # Tests that pin the clock must not have keys rotated under them by real time.
        key_auto_rotate=False,
        ratelimit_signin=UNREACHED_RATE_LIMIT,
        ratelimit_mfa=UNREACHED_RATE_LIMIT,
        ratelimit_reset=UNREACHED_RATE_LIMIT,
        ratelimit_token=UNREACHED_RATE_LIMIT,
        # Cheap hashing keeps the suite fast; tests/security/test_passwords.py checks that the
        # defaults are RFC 9106's, and live-server tests run with the defaults.
        argon2_time_cost=2,
        argon2_memory_cost=8192,
        argon2_parallelism=1,
    )
    return replace(base, **overrides)

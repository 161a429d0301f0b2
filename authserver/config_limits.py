"""The rate-limit settings (AUTHSERVER_RATELIMIT_*): declared apart, and inherited by Settings.

One window list per group of endpoints, in Flask-Limiter's notation; ratelimit/limits.py
applies them. Kept out of config.py so that module stays one screenful of the other settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.config_fields import parse_bool, parse_rate_limit, parse_str, setting


@dataclass(frozen=True)
class RateLimitSettings:
    ratelimit_enabled: bool = setting(True, parse_bool, "Enforce the AUTHSERVER_RATELIMIT_* limits")
    ratelimit_signin: str = setting(
        "10/minute;100/hour",
        parse_rate_limit,
        "Sign-in attempts (POST /login, and the signed-in forms that ask for the password "
        "again: password change, account deletion), counted per IP address and per account",
    )
    ratelimit_mfa: str = setting(
        "10/minute;50/hour",
        parse_rate_limit,
        "Second-factor attempts, counted per IP address and per account",
    )
    ratelimit_reset: str = setting(
        "5/minute;20/hour",
        parse_rate_limit,
        "Password-reset requests and submissions, counted per IP address and per account",
    )
    ratelimit_signup: str = setting(
        "5/minute;20/hour",
        parse_rate_limit,
        "Sign-up form submissions (AUTHSERVER_REGISTRATION=open), counted per IP address and "
        "per address asked for",
    )
    ratelimit_token: str = setting(
        "300/minute",
        parse_rate_limit,
        "Token endpoint requests, counted per client (and failed client logins per IP)",
    )
    ratelimit_user_code: str = setting(
        "10/minute;50/hour",
        parse_rate_limit,
        "Wrong user codes entered at /device (RFC 8628 §5.1: guessing), counted per IP address",
    )
    ratelimit_csp_report: str = setting(
        "60/minute",
        parse_rate_limit,
        "Content-Security-Policy violation reports (POST /csp-report), counted per IP address",
    )
    ratelimit_key_prefix: str = setting(
        "authserver-ratelimit",
        parse_str,
        "Prefix of rate-limit keys in Redis, so deployments sharing a Redis stay apart",
    )

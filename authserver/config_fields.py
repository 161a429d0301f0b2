"""How one setting is declared: its AUTHSERVER_ variable name, and the parser of its raw text.

A setting is a field of :class:`authserver.config.Settings` made with :func:`setting`, which
carries its parser, its help line and whether it is a secret. A parser turns the raw text of the
variable into the typed value, or raises :class:`InvalidValue` saying what was expected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import field
from typing import Any

from limits import parse_many

PREFIX = "AUTHSERVER_"
ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("json", "text")
# gunicorn's worker classes we support: gevent (many connections per process, so slow clients
# hold no worker; docs/performance.md, "Server choice"), sync (one request per process at a
# time) and gthread (threads). All run the app unchanged; it is thread- and greenlet-safe.
WORKER_CLASSES = ("gevent", "sync", "gthread")
MAIL_BACKENDS = ("smtp", "console", "file")
# Who may make an account besides operators: nobody, people with an invitation, anybody.
REGISTRATION_MODES = ("closed", "invite", "open")


class InvalidValue(ValueError):
    """A single value could not be parsed; the message says what was expected."""


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def setting(
    default: Any,  # Any: each field's own annotation gives the real type
    parse: Callable[[str], Any],
    help: str,
    *,
    secret: bool = False,
) -> Any:
    return field(default=default, metadata={"parse": parse, "help": help, "secret": secret})


# --- parsers: raw string -> typed value, raising InvalidValue with a reason ----------------------


def parse_str(raw: str) -> str:
    return raw


def parse_optional_str(raw: str) -> str | None:
    return raw or None


def parse_seconds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValue(f"expected a whole number of seconds, got {raw!r}") from None
    if value <= 0:
        raise InvalidValue(f"expected a positive number of seconds, got {value}")
    return value


def parse_positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValue(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise InvalidValue(f"expected a positive number, got {value}")
    return value


def parse_non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValue(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise InvalidValue(f"expected zero or a positive number, got {value}")
    return value


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidValue(f"expected true, false, 1 or 0, got {raw!r}")


def parse_key_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated IP addresses and CIDR networks, each normalised (``10.0.0.0/8``)."""
    networks = []
    for part in parse_key_list(raw):
        try:
            networks.append(str(ipaddress.ip_network(part)))
        except ValueError:
            # ip_network refuses host bits ("10.0.0.1/8"): most likely a typo for a network.
            raise InvalidValue(
                f"expected IP addresses or CIDR networks joined by commas, got {part!r}"
            ) from None
    return tuple(networks)


def parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise InvalidValue(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return level


def _parse_choice(raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise InvalidValue(f"expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def parse_env(raw: str) -> str:
    return _parse_choice(raw, ENVIRONMENTS)


def parse_log_format(raw: str) -> str:
    return _parse_choice(raw, LOG_FORMATS)


def parse_worker_class(raw: str) -> str:
    return _parse_choice(raw, WORKER_CLASSES)


def parse_mail_backend(raw: str) -> str:
    return _parse_choice(raw, MAIL_BACKENDS)


def parse_registration(raw: str) -> str:
    return _parse_choice(raw, REGISTRATION_MODES)


def parse_totp_issuer(raw: str) -> str:
    # Key URI format: the label is "issuer:account", so a colon in the issuer would split it.
    if ":" in raw:
        raise InvalidValue(f"must not contain a colon, got {raw!r}")
    return raw.strip()


def parse_rate_limit(raw: str) -> str:
    """Flask-Limiter's notation, several limits joined by ';' (e.g. ``10/minute;100/hour``)."""
    try:
        items = parse_many(raw)
    except ValueError:
        raise InvalidValue(
            f"expected limits like '10/minute;100/hour' (amount/unit, joined by ';'), got {raw!r}"
        ) from None
    if any(item.amount <= 0 for item in items):
        # A zero limit refuses everything: a typo, never a policy.
        raise InvalidValue(f"every limit must allow at least one request, got {raw!r}")
    return raw

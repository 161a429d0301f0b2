"""The back-channel logout delivery settings (AUTHSERVER_BACKCHANNEL_LOGOUT_*), inherited by
Settings.

How the outbox loop (backchannel/delivery.py) waits for a relying party and how long it keeps
trying; declared apart so config.py keeps to the settings every deployment reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.config_fields import parse_seconds, setting


@dataclass(frozen=True)
class BackchannelLogoutSettings:
    backchannel_logout_timeout: int = setting(
        5,
        parse_seconds,
        "Connect and read timeout of one back-channel logout POST to a relying party (seconds)",
    )
    backchannel_logout_retry_seconds: int = setting(
        3600,
        parse_seconds,
        "How long an undelivered logout token keeps being retried before it is given up (seconds)",
    )
    backchannel_logout_backoff: int = setting(
        2,
        parse_seconds,
        "Wait before the first retry of a failed logout delivery; it doubles each time, up to "
        "5 minutes (seconds)",
    )

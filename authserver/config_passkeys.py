"""The passkey settings (AUTHSERVER_WEBAUTHN_*), inherited by Settings.

Which relying party passkeys are made for and which page origins may use them; empty means
the issuer's host and origin (security/passkey_ceremonies.py reads them through
:func:`relying_party`).
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.config_fields import parse_key_list, parse_seconds, parse_str, setting


@dataclass(frozen=True)
class PasskeySettings:
    webauthn_rp_id: str = setting(
        "",
        parse_str,
        "WebAuthn relying-party id: the issuer's host or a registrable suffix of it; empty "
        "means the issuer's host",
    )
    webauthn_origins: tuple[str, ...] = setting(
        (),
        parse_key_list,
        "Comma-separated page origins allowed to use passkeys; empty means the issuer's origin",
    )
    webauthn_rp_name: str = setting(
        "",
        parse_str,
        "The name authenticators show for our passkeys; empty means the relying-party id",
    )
    webauthn_challenge_ttl: int = setting(
        300, parse_seconds, "How long a passkey challenge may be answered (seconds)"
    )

"""Making secrets: new keys (for development and `authserver generate-secrets`), and the
development ones kept in the instance folder so that a fresh clone runs with no set-up.

Production never uses the stored ones: there every secret must be set (authserver/config.py).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import tempfile
from pathlib import Path

DEV_SECRETS_FILENAME = "dev-secrets.json"
ENCRYPTION_KEY_BYTES = 32  # AES-256-GCM


class UnreadableDevSecrets(Exception):
    """The development secrets file exists but cannot be used; the message says what to do."""


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
        raise UnreadableDevSecrets(
            f"{path}: unreadable development secrets; delete the file to make new ones"
        ) from None

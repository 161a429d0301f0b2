"""At-rest encryption: AES-256-GCM with a key ring from ``AUTHSERVER_ENCRYPTION_KEYS``.

The first key encrypts and every key decrypts, so an operator rotates by putting a new key first
and keeping the old ones after it until everything is re-encrypted.

A ciphertext is ``key id (8 bytes) || nonce (12 bytes) || AES-GCM output (ciphertext + tag)``.
The key id says which key of the ring to use without trying them all. Every call names a
*purpose* that is bound in as associated data, so a ciphertext stored for one purpose (say one
signing key) cannot be swapped in for another: decryption fails.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app

from authserver.config import ConfigError, Settings, app_settings, env_name
from authserver.dev_secrets import ENCRYPTION_KEY_BYTES
from authserver.security.errors import DecryptionError, UnknownEncryptionKey

KEY_ID_BYTES = 8
NONCE_BYTES = 12  # the size AES-GCM is specified for; random nonces are safe far beyond our volume
TAG_BYTES = 16
_HEADER_BYTES = KEY_ID_BYTES + NONCE_BYTES
KEYRING_EXTENSION = "authserver.keyring"


def key_id(key: bytes) -> bytes:
    """A short public name for a key: a hash prefix reveals nothing about a random 256-bit key."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


def _decode_key(encoded: str) -> bytes:
    key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(key) != ENCRYPTION_KEY_BYTES:
        raise ValueError("wrong key length")
    return key


class KeyRing:
    """AES-256-GCM keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        ciphers = [(key_id(key), AESGCM(key)) for key in keys]
        if not ciphers:
            raise ValueError("a key ring needs at least one key")
        self._current_id, self._current = ciphers[0]
        # Reversed, so that a key listed twice resolves to its first (newest) position.
        self._by_id = dict(reversed(ciphers))

    @classmethod
    def from_encoded(cls, encoded_keys: Iterable[str]) -> KeyRing:
        """Build from base64url strings, as ``AUTHSERVER_ENCRYPTION_KEYS`` holds them."""
        problems: list[str] = []
        keys: list[bytes] = []
        for position, encoded in enumerate(encoded_keys, start=1):
            try:
                keys.append(_decode_key(encoded))
            except ValueError:
                # Never echo the value: it is a secret, even when it is a broken one.
                problems.append(f"{env_name('encryption_keys')}: key #{position} is not valid")
        if not keys and not problems:
            problems.append(f"{env_name('encryption_keys')}: at least one key is required")
        if problems:
            raise ConfigError(problems)
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls.from_encoded(settings.encryption_keys)

    def encrypt(self, plaintext: bytes, *, purpose: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext, _associated_data(purpose))
        return self._current_id + nonce + sealed

    def decrypt(self, blob: bytes, *, purpose: str) -> bytes:
        if len(blob) < _HEADER_BYTES + TAG_BYTES:
            raise DecryptionError("ciphertext is too short to be ours")
        cipher = self._by_id.get(blob[:KEY_ID_BYTES])
        if cipher is None:
            setting = env_name("encryption_keys")
            raise UnknownEncryptionKey(f"ciphertext was encrypted under a key not in {setting}")
        nonce = blob[KEY_ID_BYTES:_HEADER_BYTES]
        try:
            return cipher.decrypt(nonce, blob[_HEADER_BYTES:], _associated_data(purpose))
        except InvalidTag:
            # One answer for tampering and for a wrong purpose: both mean "not this data".
            raise DecryptionError(
                f"ciphertext failed authentication for purpose {purpose!r}"
            ) from None

    def needs_reencryption(self, blob: bytes) -> bool:
        """True when the ciphertext is not under the first (current) key."""
        return blob[:KEY_ID_BYTES] != self._current_id

    def reencrypt(self, blob: bytes, *, purpose: str) -> bytes:
        """The same plaintext under the current key (unchanged input when already current)."""
        if not self.needs_reencryption(blob):
            return blob
        return self.encrypt(self.decrypt(blob, purpose=purpose), purpose=purpose)


def _associated_data(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("a purpose is required: it keeps ciphertexts from being swapped")
    return purpose.encode("utf-8")


# --- the app's key ring ---------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    app.extensions[KEYRING_EXTENSION] = KeyRing.from_settings(app_settings(app))


def current_keyring() -> KeyRing:
    keyring: KeyRing = current_app.extensions[KEYRING_EXTENSION]
    return keyring


def encrypt(plaintext: bytes, *, purpose: str) -> bytes:
    """Encrypt under the app's current key; ``purpose`` must be given again to decrypt."""
    return current_keyring().encrypt(plaintext, purpose=purpose)


def decrypt(blob: bytes, *, purpose: str) -> bytes:
    """Decrypt with whichever key of the app's ring made ``blob``; raises DecryptionError."""
    return current_keyring().decrypt(blob, purpose=purpose)


def needs_reencryption(blob: bytes) -> bool:
    return current_keyring().needs_reencryption(blob)

"""At-rest encryption: key ring order, purpose binding, tampering, clean failures."""

from __future__ import annotations

import base64

import pytest
from flask import Flask

from authserver.config import ConfigError
from authserver.dev_secrets import new_encryption_key
from authserver.security import crypto
from authserver.security.crypto import KeyRing
from authserver.security.errors import DecryptionError, UnknownEncryptionKey

PLAINTEXT = b"a stand-in for a DER-encoded private key \x00\x01\x02"


def ring(*keys: str) -> KeyRing:
    return KeyRing.from_encoded(keys)


def test_round_trip_gives_back_the_plaintext() -> None:
    keyring = ring(new_encryption_key())

    blob = keyring.encrypt(PLAINTEXT, purpose="signing-key:abc")

    assert PLAINTEXT not in blob
    assert keyring.decrypt(blob, purpose="signing-key:abc") == PLAINTEXT


def test_same_plaintext_encrypts_differently_every_time() -> None:
    keyring = ring(new_encryption_key())

    first = keyring.encrypt(PLAINTEXT, purpose="p")
    second = keyring.encrypt(PLAINTEXT, purpose="p")

    assert first != second


def test_ciphertext_for_one_purpose_cannot_be_used_for_another() -> None:
    keyring = ring(new_encryption_key())
    blob = keyring.encrypt(PLAINTEXT, purpose="signing-key:one")

    with pytest.raises(DecryptionError, match="failed authentication"):
        keyring.decrypt(blob, purpose="signing-key:two")


@pytest.mark.parametrize("position", [0, 8, 20, -1], ids=["key-id", "nonce", "body", "tag"])
def test_any_flipped_byte_is_detected(position: int) -> None:
    keyring = ring(new_encryption_key())
    blob = bytearray(keyring.encrypt(PLAINTEXT, purpose="p"))
    blob[position] ^= 0x01

    with pytest.raises(DecryptionError):
        keyring.decrypt(bytes(blob), purpose="p")


def test_truncated_ciphertext_is_a_clean_error() -> None:
    keyring = ring(new_encryption_key())

    with pytest.raises(DecryptionError, match="too short"):
        keyring.decrypt(b"\x00" * 20, purpose="p")


def test_ring_without_the_key_fails_without_revealing_keys() -> None:
    old, other = new_encryption_key(), new_encryption_key()
    blob = ring(old).encrypt(PLAINTEXT, purpose="p")

    with pytest.raises(UnknownEncryptionKey) as caught:
        ring(other).decrypt(blob, purpose="p")

    message = str(caught.value)
    assert "AUTHSERVER_ENCRYPTION_KEYS" in message
    assert old not in message
    assert other not in message


def test_new_first_key_encrypts_and_old_second_key_still_decrypts() -> None:
    old, new = new_encryption_key(), new_encryption_key()
    stored = ring(old).encrypt(PLAINTEXT, purpose="p")
    rotated = ring(new, old)

    assert rotated.decrypt(stored, purpose="p") == PLAINTEXT
    assert rotated.needs_reencryption(stored)
    assert not rotated.needs_reencryption(rotated.encrypt(PLAINTEXT, purpose="p"))


def test_reencrypt_moves_data_to_the_first_key() -> None:
    old, new = new_encryption_key(), new_encryption_key()
    stored = ring(old).encrypt(PLAINTEXT, purpose="p")

    moved = ring(new, old).reencrypt(stored, purpose="p")

    assert ring(new).decrypt(moved, purpose="p") == PLAINTEXT
    assert ring(new, old).reencrypt(moved, purpose="p") == moved


def test_an_empty_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="purpose is required"):
        ring(new_encryption_key()).encrypt(PLAINTEXT, purpose="")


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ((), "AUTHSERVER_ENCRYPTION_KEYS: at least one key is required"),
        (("c2hvcnQ",), "AUTHSERVER_ENCRYPTION_KEYS: key #1 is not valid"),
        ((new_encryption_key(), "!!!"), "AUTHSERVER_ENCRYPTION_KEYS: key #2 is not valid"),
    ],
)
def test_bad_key_lists_are_configuration_errors(keys: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KeyRing.from_encoded(keys)

    assert caught.value.problems == [problem]


def test_a_ring_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        KeyRing([])


def test_keys_may_be_given_with_base64_padding() -> None:
    padded = base64.urlsafe_b64encode(b"k" * 32).decode()
    unpadded = padded.rstrip("=")
    blob = ring(padded).encrypt(PLAINTEXT, purpose="p")

    assert ring(unpadded).decrypt(blob, purpose="p") == PLAINTEXT


def test_app_functions_use_the_ring_from_the_settings(app: Flask) -> None:
    blob = crypto.encrypt(PLAINTEXT, purpose="p")

    assert crypto.decrypt(blob, purpose="p") == PLAINTEXT
    assert not crypto.needs_reencryption(blob)
    [key] = app.extensions["authserver.settings"].encryption_keys
    assert ring(key).decrypt(blob, purpose="p") == PLAINTEXT

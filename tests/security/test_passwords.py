"""Password hashing and the policy for new passwords."""

from __future__ import annotations

import time
import unicodedata

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from authserver.security.passwords import (
    COMMON_PASSWORDS,
    DUMMY_HASH,
    HASH_PARAMETERS,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    is_common_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery staple"


def old_parameters_hash(password: str) -> str:
    """A hash as an older release with cheaper parameters would have stored it."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


def test_hashes_are_argon2id_with_the_configured_parameters() -> None:
    password_hash = hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert HASH_PARAMETERS.type is Type.ID
    assert extract_parameters(password_hash) == HASH_PARAMETERS


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_verify_accepts_the_password_and_refuses_others() -> None:
    password_hash = hash_password(PASSWORD)

    assert verify_password(password_hash, PASSWORD) is True
    assert verify_password(password_hash, PASSWORD.upper()) is False
    assert verify_password(password_hash, "") is False


@pytest.mark.parametrize(
    "malformed",
    ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$garbage", "$2b$12$" + "a" * 53],
)
def test_verify_returns_false_for_a_malformed_hash(malformed: str) -> None:
    assert verify_password(malformed, PASSWORD) is False


def test_composed_and_decomposed_unicode_are_the_same_password() -> None:
    composed = "mot de passe très sûr"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed

    assert verify_password(hash_password(composed), decomposed) is True


def test_hashes_with_old_parameters_still_verify_but_need_a_rehash() -> None:
    old = old_parameters_hash(PASSWORD)

    assert verify_password(old, PASSWORD) is True
    assert needs_rehash(old) is True
    assert needs_rehash(hash_password(PASSWORD)) is False
    assert needs_rehash("not a hash") is True


def test_the_dummy_hash_costs_what_a_real_hash_costs() -> None:
    # Same algorithm and parameters, hence the same work as verifying a real user's hash.
    assert extract_parameters(DUMMY_HASH) == HASH_PARAMETERS
    assert verify_password(DUMMY_HASH, "") is False


@pytest.mark.parametrize(
    "password",
    [
        "a" * MIN_PASSWORD_LENGTH,  # no composition rules: lower-case letters alone are fine
        "x" * MAX_PASSWORD_LENGTH,
        "é" * MIN_PASSWORD_LENGTH,  # characters, not bytes, are counted
        "twelve chars",
        "jo-is-my-name-here",  # the local part "jo" is too short to be checked
    ],
)
def test_policy_accepts(password: str) -> None:
    check_password_policy(password, email="jo@example.org")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 12 characters"),
        ("a" * (MIN_PASSWORD_LENGTH - 1), "at least 12 characters"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), "at most 128 characters"),
        ("my name is Alice.Smith!", "part of the email address before the @"),
        ("alice.smith", "at least 12 characters"),  # length is reported first
    ],
)
def test_policy_refuses_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(PasswordPolicyError, match=reason):
        check_password_policy(password, email="alice.smith@example.org")


def test_the_bundled_list_is_a_real_list_of_common_passwords() -> None:
    assert len(COMMON_PASSWORDS) >= 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= COMMON_PASSWORDS
    assert all(entry == entry.strip().lower() and entry for entry in COMMON_PASSWORDS)


@pytest.mark.parametrize(
    "password",
    [
        "qwerty123456",
        "QWERTY123456",  # case does not make a listed password safe
        " 1q2w3e4r5t6y ",  # nor do spaces around it
        # nor full-width forms of the same characters (NFKC makes them plain again)
        "".join(chr(ord(character) + 0xFEE0) for character in "qwerty123456"),
        "password1234",
        "1qaz2wsx3edc",
    ],
)
def test_policy_refuses_passwords_on_the_list_and_says_why(password: str) -> None:
    assert is_common_password(password)

    with pytest.raises(PasswordPolicyError, match="too common: it appears in lists of passwords"):
        check_password_policy(password, email="ada@example.org")


def test_passwords_off_the_list_pass_the_list_check() -> None:
    assert not is_common_password(PASSWORD)
    assert not is_common_password("qwerty123456 but longer")


def test_a_list_look_up_is_fast() -> None:
    # One set probe: 10,000 checks of a 128-character password take milliseconds, not seconds.
    started = time.perf_counter()
    for _ in range(10_000):
        is_common_password("x" * MAX_PASSWORD_LENGTH)
    assert time.perf_counter() - started < 1.0

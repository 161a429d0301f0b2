"""Password hashing and the policy for new passwords."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, Type, extract_parameters, profiles
from flask import Flask

from authserver.config import Settings
from authserver.security.passwords import (
    COMMON_PASSWORDS,
    MAX_PASSWORD_LENGTH,
    PasswordPolicyError,
    check_password_policy,
    configured_hash_parameters,
    dummy_verify,
    hash_parameters,
    hash_password,
    is_common_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from tests.conftest import AppFactory

PASSWORD = "correct horse battery staple"
MIN_PASSWORD_LENGTH = 12  # the default of AUTHSERVER_PASSWORD_MIN_LENGTH


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    # Hashing parameters and the minimum length are settings: every call needs an app.
    yield


def old_parameters_hash(password: str) -> str:
    """A hash as an older release with cheaper parameters would have stored it."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


def test_the_default_parameters_are_rfc_9106s_low_memory_argon2id() -> None:
    assert hash_parameters(Settings()) == profiles.RFC_9106_LOW_MEMORY
    assert profiles.RFC_9106_LOW_MEMORY.type is Type.ID


def test_hashes_are_argon2id_with_the_configured_parameters() -> None:
    password_hash = hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert extract_parameters(password_hash) == configured_hash_parameters()


def test_other_settings_give_hashes_with_those_parameters(make_app: AppFactory) -> None:
    other = make_app(argon2_time_cost=2, argon2_memory_cost=12288, argon2_parallelism=3)

    with other.app_context():
        parameters = extract_parameters(hash_password(PASSWORD))

    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 12288, 3)
    assert parameters.type is Type.ID


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


def test_the_dummy_verification_costs_what_a_real_one_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def recording_verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(str(hash))
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recording_verify)
    dummy_verify(PASSWORD)
    dummy_verify("")

    # Same algorithm and parameters as a fresh hash, hence the same work as a real user's.
    assert len(verified) == 2
    assert extract_parameters(verified[0]) == configured_hash_parameters()
    assert verified[0] == verified[1]  # made once per process, not per call


def test_the_minimum_length_is_a_setting(make_app: AppFactory) -> None:
    stricter = make_app(password_min_length=16)

    with stricter.app_context():
        with pytest.raises(PasswordPolicyError, match="at least 16 characters"):
            check_password_policy("fifteen chars!!", email="ada@example.org")
        check_password_policy("sixteen chars!!!", email="ada@example.org")


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
        ("alice.smith", "^password must be at least 12 characters; "),  # length comes first
    ],
)
def test_policy_refuses_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(PasswordPolicyError, match=reason):
        check_password_policy(password, email="alice.smith@example.org")


def test_policy_names_every_rule_a_password_breaks_at_once() -> None:
    # Short, holding the address' local part, and on the breached list.
    with pytest.raises(PasswordPolicyError) as refused:
        check_password_policy("alice123", email="alice@example.org")

    assert refused.value.problems == (
        "password must be at least 12 characters",
        "password must not contain the part of the email address before the @",
        "password is too common: it appears in lists of passwords leaked in data breaches, "
        "which attackers try first",
    )
    assert str(refused.value) == "; ".join(refused.value.problems)
    assert password_problems("alice123", email="alice@example.org") == list(refused.value.problems)
    assert password_problems(PASSWORD, email="alice@example.org") == []


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

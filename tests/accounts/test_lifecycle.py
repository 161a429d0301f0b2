"""Accounts: registration rules, look-ups and sign-in checks, on the real database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters
from flask import Flask

from authserver.accounts.lifecycle import (
    MAX_EMAIL_LENGTH,
    authenticate,
    create_user,
    find_user_by_email,
    get_user,
    list_users,
    normalise_email,
)
from authserver.extensions import db
from authserver.models import User
from authserver.security.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidEmail,
    InvalidName,
    PasswordPolicyError,
    UnknownUser,
)
from authserver.security.passwords import configured_hash_parameters, verify_password
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def verified_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every hash argon2-cffi is asked to verify against, in order.

    A spy on the library (not on our code): the real verification still runs.
    """
    seen: list[str] = []
    real_verify = PasswordHasher.verify

    def recording_verify(self: PasswordHasher, hash: Any, password: Any) -> bool:
        seen.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recording_verify)
    yield seen


def test_create_user_stores_a_normalised_email_and_a_hash(app: Flask) -> None:
    user = create_user("  Alice@Example.ORG ", DEFAULT_PASSWORD, name="  Alice  ")

    stored = db.session.get(User, user.id)
    assert stored is not None
    assert stored.email == "alice@example.org"
    assert stored.name == "Alice"
    assert uuid.UUID(stored.subject).version == 4
    assert stored.is_disabled is False
    assert DEFAULT_PASSWORD not in stored.password_hash
    assert verify_password(stored.password_hash, DEFAULT_PASSWORD)


def test_a_blank_name_is_no_name(app: Flask) -> None:
    assert create_user(DEFAULT_EMAIL, DEFAULT_PASSWORD, name="   ").name is None


def test_a_name_longer_than_the_column_is_refused(app: Flask) -> None:
    with pytest.raises(InvalidName, match="at most 200 characters"):
        create_user(DEFAULT_EMAIL, DEFAULT_PASSWORD, name="n" * 201)


def test_an_email_registered_in_another_case_is_a_duplicate(app: Flask) -> None:
    make_user("alice@example.org")

    with pytest.raises(EmailAlreadyRegistered, match=re.escape("alice@example.org")):
        create_user("ALICE@example.org", "another good password")
    assert len(list_users()) == 1


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "alice@",
        "@example.org",
        "alice@@example.org",
        "alice@bob@example.org",
        "alice smith@example.org",
        "alice@example..org",
        "alice@.example.org",
        "alice@example.org.",
        "a" * 65 + "@example.org",
        "alice@" + "d" * (MAX_EMAIL_LENGTH - 5) + ".org",
    ],
)
def test_addresses_without_the_shape_of_one_are_refused(app: Flask, email: str) -> None:
    with pytest.raises(InvalidEmail):
        create_user(email, DEFAULT_PASSWORD)
    assert list_users() == []


@pytest.mark.parametrize("email", ["alice+tag@example.org", "admin@localhost", "ü@例え.jp"])
def test_unusual_but_real_addresses_are_accepted(app: Flask, email: str) -> None:
    assert create_user(email, DEFAULT_PASSWORD).email == normalise_email(email)


def test_a_weak_password_creates_nothing(app: Flask) -> None:
    with pytest.raises(PasswordPolicyError, match="at least 12 characters"):
        create_user(DEFAULT_EMAIL, "short")
    with pytest.raises(PasswordPolicyError, match="before the @"):
        create_user("alice.smith@example.org", "i am alice.smith")
    assert list_users() == []


def test_find_user_by_email_ignores_case_and_spaces(app: Flask) -> None:
    user = make_user("alice@example.org")

    assert find_user_by_email(" ALICE@example.org") == user
    assert find_user_by_email("bob@example.org") is None


def test_get_user_raises_for_an_unknown_id(app: Flask) -> None:
    user = make_user()

    assert get_user(user.id) == user
    with pytest.raises(UnknownUser):
        get_user(user.id + 1)


def test_list_users_is_oldest_first(app: Flask) -> None:
    first = make_user("first@example.org")
    second = make_user("second@example.org")

    assert list_users() == [first, second]


def test_authenticate_returns_the_user(app: Flask) -> None:
    user = make_user()

    assert authenticate(" Alice@Example.org", DEFAULT_PASSWORD, now=NOW) == user


@pytest.mark.parametrize(
    ("email", "password", "disabled"),
    [
        ("nobody@example.org", DEFAULT_PASSWORD, False),
        (DEFAULT_EMAIL, "the wrong password", False),
        (DEFAULT_EMAIL, DEFAULT_PASSWORD, True),
    ],
    ids=["unknown email", "wrong password", "disabled account"],
)
def test_every_failure_is_the_same_exception_after_one_verification(
    app: Flask, verified_hashes: list[str], email: str, password: str, disabled: bool
) -> None:
    user = make_user(disabled=disabled)
    verified_hashes.clear()

    with pytest.raises(InvalidCredentials) as failure:
        authenticate(email, password, now=NOW)

    assert str(failure.value) == "the email address or password is incorrect"
    # One verification with the same parameters whatever the reason: equal work, equal time.
    assert len(verified_hashes) == 1
    if email == DEFAULT_EMAIL:
        assert verified_hashes == [user.password_hash]
    assert extract_parameters(verified_hashes[0]) == configured_hash_parameters()


def test_a_locked_account_costs_one_dummy_verification_and_never_tries_the_password(
    app: Flask, verified_hashes: list[str]
) -> None:
    user = make_user()
    for _ in range(app.extensions["authserver.settings"].lockout_threshold):
        with pytest.raises(InvalidCredentials):
            authenticate(DEFAULT_EMAIL, "the wrong password", now=NOW)
    verified_hashes.clear()

    with pytest.raises(InvalidCredentials) as failure:
        authenticate(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=NOW)

    assert str(failure.value) == "the email address or password is incorrect"
    # One verification at today's cost, against a hash that is not the account's.
    assert len(verified_hashes) == 1
    assert verified_hashes[0] != user.password_hash
    assert extract_parameters(verified_hashes[0]) == configured_hash_parameters()


def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(app: Flask) -> None:
    user = make_user()
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
        DEFAULT_PASSWORD
    )
    db.session.commit()

    authenticate(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=NOW)

    db.session.expire_all()
    upgraded = db.session.get(User, user.id)
    assert upgraded is not None
    assert extract_parameters(upgraded.password_hash) == configured_hash_parameters()
    assert verify_password(upgraded.password_hash, DEFAULT_PASSWORD)
    assert upgraded.updated_at == NOW


def test_a_current_hash_is_left_alone_at_sign_in(app: Flask) -> None:
    user = make_user()
    before = user.password_hash

    authenticate(DEFAULT_EMAIL, DEFAULT_PASSWORD, now=NOW)

    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored is not None
    assert stored.password_hash == before

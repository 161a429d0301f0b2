"""Tokens for emailed links: 256 random bits, stored as a purpose-bound SHA-256."""

from __future__ import annotations

import hashlib

import pytest

from authserver.accounts.emailed_links import (
    LinkPurpose,
    has_token_shape,
    hash_token,
    issue_token,
)


def test_tokens_are_256_random_bits_in_url_safe_base64() -> None:
    issued = {issue_token(LinkPurpose.PASSWORD_RESET).token for _ in range(100)}

    assert len(issued) == 100
    assert all(has_token_shape(token) and len(token) == 43 for token in issued)  # 43 * 6 >= 256


def test_the_stored_hash_is_not_the_token_nor_its_plain_hash() -> None:
    issued = issue_token(LinkPurpose.EMAIL_VERIFICATION)

    assert issued.token_hash == hash_token(LinkPurpose.EMAIL_VERIFICATION, issued.token)
    assert issued.token not in issued.token_hash
    assert issued.token_hash != hashlib.sha256(issued.token.encode()).hexdigest()


def test_one_token_hashes_differently_for_each_purpose() -> None:
    token = issue_token(LinkPurpose.PASSWORD_RESET).token

    hashes = {hash_token(purpose, token) for purpose in LinkPurpose}

    assert len(hashes) == len(LinkPurpose)


@pytest.mark.parametrize("token", ["", "short", "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "/"])
def test_anything_else_is_not_a_token(token: str) -> None:
    assert not has_token_shape(token)

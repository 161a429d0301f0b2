"""The codes themselves: TOTP per RFC 6238, recovery codes, and telling the two apart."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from flask import Flask

from authserver.security.errors import MalformedMfaCode
from authserver.security.mfa.codes import (
    RECOVERY_CODE_ALPHABET,
    RECOVERY_CODE_COUNT,
    format_secret,
    hash_recovery_code,
    matching_step,
    new_recovery_codes,
    new_totp_secret,
    parse_submitted_code,
    provisioning_uri,
    time_step,
    totp_code,
)

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_codes_match_the_rfc_6238_test_vectors(unix_time: int, eight_digits: str) -> None:
    step = time_step(datetime.fromtimestamp(unix_time, UTC))

    # Six digits are the last six of the eight-digit value (the same truncation, mod 10^6).
    assert totp_code(RFC_SEED, step) == eight_digits[-6:]


def test_a_new_secret_has_160_bits_and_is_base32() -> None:
    secret = new_totp_secret()

    assert len(base64.b32decode(secret)) == 20
    assert secret != new_totp_secret()


def test_one_step_either_side_matches_and_two_do_not() -> None:
    secret = new_totp_secret()
    now = datetime(2031, 1, 1, 12, 0, 10, tzinfo=UTC)
    step = time_step(now)

    for offset in (-1, 0, 1):
        assert matching_step(secret, totp_code(secret, step + offset), now=now) == step + offset
    for offset in (-2, 2):
        code = totp_code(secret, step + offset)
        # (a collision with a code inside the window is possible, one in 333,333)
        if code not in {totp_code(secret, step + near) for near in (-1, 0, 1)}:
            assert matching_step(secret, code, now=now) is None


def test_an_authenticator_app_computes_the_same_codes() -> None:
    secret = new_totp_secret()
    now = datetime(2031, 1, 1, 12, 0, 10, tzinfo=UTC)

    assert totp_code(secret, time_step(now)) == pyotp.TOTP(secret).at(now)


def test_the_provisioning_uri_names_issuer_and_account() -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = provisioning_uri(secret, account="ada@example.com", issuer="id.example.com")

    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/id.example.com:ada@example.com"
    assert query["secret"] == [secret]
    assert query["issuer"] == ["id.example.com"]
    # Defaults every app assumes, so none are sent: SHA1, 6 digits, 30 s.
    assert not {"algorithm", "digits", "period"} & query.keys()


def test_the_key_is_shown_in_groups_of_four() -> None:
    assert format_secret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") == (
        "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
    )


def test_recovery_codes_are_ten_distinct_unambiguous_codes_of_50_bits() -> None:
    codes = new_recovery_codes()

    assert len(codes) == RECOVERY_CODE_COUNT == len(set(codes))
    for code in codes:
        first, second = code.split("-")
        assert len(first) == len(second) == 5
        assert set(first + second) <= set(RECOVERY_CODE_ALPHABET)
    assert not set("01IO") & set(RECOVERY_CODE_ALPHABET)
    assert math.log2(len(RECOVERY_CODE_ALPHABET)) * 10 == 50


@pytest.mark.parametrize(
    ("typed", "value", "is_recovery_code"),
    [
        ("123456", "123456", False),
        (" 123 456 ", "123456", False),
        ("ABCDE-FGHJK", "ABCDEFGHJK", True),
        ("abcde fghjk", "ABCDEFGHJK", True),
        ("2345678923", "2345678923", True),  # ten digits: a recovery code, never a TOTP
    ],
)
def test_the_shape_tells_a_totp_code_from_a_recovery_code(
    typed: str, value: str, is_recovery_code: bool
) -> None:
    submitted = parse_submitted_code(typed)

    assert (submitted.value, submitted.is_recovery_code) == (value, is_recovery_code)


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "1234567", "١٢٣٤٥٦", "ABCDE-FGHJ", "ABCDE-FGHJ0", "OOOOO-IIIII", "x" * 32],
)
def test_other_shapes_are_malformed(typed: str) -> None:
    with pytest.raises(MalformedMfaCode):
        parse_submitted_code(typed)


def test_recovery_code_hashes_ignore_formatting_and_differ_per_user(app: Flask) -> None:
    as_shown = hash_recovery_code("ABCDE-FGHJK", user_subject="user-1")

    assert hash_recovery_code("abcde fghjk", user_subject="user-1") == as_shown
    assert hash_recovery_code("ABCDE-FGHJK", user_subject="user-2") != as_shown
    assert "ABCDE" not in as_shown and len(as_shown) == 64

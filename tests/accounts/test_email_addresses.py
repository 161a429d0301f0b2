"""One stored form per address (NFKC, case folding), and look-alikes refused at registration."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from authserver.accounts.lifecycle import create_user, find_user_by_email, list_users
from authserver.cli import main
from authserver.security.errors import EmailAlreadyRegistered, InvalidEmail
from tests.conftest import AppFactory
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.support.web import csrf_token, sign_in

ALICE = "alice@example.org"
CYRILLIC = {
    "a": "\N{CYRILLIC SMALL LETTER A}",
    "e": "\N{CYRILLIC SMALL LETTER IE}",
    "s": "\N{CYRILLIC SMALL LETTER DZE}",
    "p": "\N{CYRILLIC SMALL LETTER ER}",
}
FULL_WIDTH_ALICE = "\N{FULLWIDTH LATIN SMALL LETTER A}lice@example.org"
# The spellings of alice@example.org that earlier releases stored as separate accounts.
SAME_ADDRESS = [
    pytest.param(FULL_WIDTH_ALICE, id="full-width-a"),
    pytest.param(
        "AL\N{LATIN CAPITAL LETTER I WITH DOT ABOVE}CE@example.org", id="dotted-capital-i"
    ),
    pytest.param(
        "\N{FULLWIDTH LATIN CAPITAL LETTER A}\N{FULLWIDTH LATIN CAPITAL LETTER L}ICE"
        "\N{FULLWIDTH COMMERCIAL AT}EXAMPLE.ORG",
        id="full-width-capitals-and-at",
    ),
    pytest.param("alice@example.org\N{IDEOGRAPHIC SPACE}", id="ideographic-space"),
    pytest.param("ALICE@EXAMPLE.ORG", id="ascii-capitals"),
]


@pytest.mark.parametrize("spelling", SAME_ADDRESS)
def test_another_spelling_of_an_address_is_the_same_account(app: Flask, spelling: str) -> None:
    alice = make_user(ALICE)

    with pytest.raises(EmailAlreadyRegistered) as refused:
        create_user(spelling, "another good password")

    assert str(refused.value) == f"an account with email {ALICE} already exists"

    assert find_user_by_email(spelling) == alice
    assert [user.email for user in list_users()] == [ALICE]


@pytest.mark.parametrize("spelling", SAME_ADDRESS)
def test_an_address_is_stored_in_its_one_form(app: Flask, spelling: str) -> None:
    assert create_user(spelling, DEFAULT_PASSWORD).email == ALICE


def test_case_folding_is_unicodes_not_lower(app: Flask) -> None:
    user = create_user("STRA\N{LATIN SMALL LETTER SHARP S}E@example.de", DEFAULT_PASSWORD)

    assert user.email == "strasse@example.de"
    assert find_user_by_email("strasse@EXAMPLE.de") == user


def test_signing_in_with_another_spelling_opens_the_account(
    app: Flask, client: FlaskClient
) -> None:
    make_user(ALICE)

    response = sign_in(client, FULL_WIDTH_ALICE, DEFAULT_PASSWORD)

    assert response.status_code == 303


def test_the_per_account_sign_in_limit_counts_every_spelling_as_one_account(
    app: Flask, make_app: AppFactory
) -> None:
    """The limiter's account key is the normalised address, not a new bucket per spelling."""
    limited = make_app(ratelimit_signin="2/minute")
    make_user(ALICE)
    spellings = [
        ALICE,
        FULL_WIDTH_ALICE,
        "AL\N{LATIN CAPITAL LETTER I WITH DOT ABOVE}CE@example.org",
    ]
    statuses = []
    for number, spelling in enumerate(spellings):
        browser = limited.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"203.0.113.{number + 1}"
        token = csrf_token(browser.get("/login").text)
        form = {"csrf_token": token, "email": spelling, "password": "a wrong password"}
        statuses.append(browser.post("/login", data=form).status_code)

    assert statuses == [401, 401, 429]


def test_the_cli_refuses_another_spelling_of_an_existing_address(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_user(ALICE)

    result = runner.invoke(
        main,
        ["user", "create", FULL_WIDTH_ALICE, "--password-stdin"],
        input="another good password\n",
    )

    assert result.exit_code == 1
    assert result.stderr == f"error: an account with email {ALICE} already exists\n"
    assert len(list_users()) == 1


def mixed(part: str) -> str:
    return (
        f"email address mixes Latin, Cyrillic or Greek letters in {part!r}; "
        "write each part in one script"
    )


@pytest.mark.parametrize(
    ("email", "message"),
    [
        pytest.param(
            f"{CYRILLIC['p']}aypal@example.org", mixed(f"{CYRILLIC['p']}aypal"), id="cyrillic-p"
        ),
        pytest.param(
            f"paypal@ex{CYRILLIC['a']}mple.org",
            mixed(f"ex{CYRILLIC['a']}mple"),
            id="cyrillic-a-in-domain",
        ),
        pytest.param(
            "\N{GREEK SMALL LETTER ALPHA}lice@example.org",
            mixed("\N{GREEK SMALL LETTER ALPHA}lice"),
            id="greek-alpha",
        ),
        pytest.param(
            "al\N{ZERO WIDTH SPACE}ice@example.org",
            "email address must not contain spaces, invisible or control characters",
            id="zero-width-space",
        ),
        pytest.param(
            "alice\N{RIGHT-TO-LEFT OVERRIDE}@example.org",
            "email address must not contain spaces, invisible or control characters",
            id="bidi-override",
        ),
    ],
)
def test_a_mixed_script_or_invisible_address_is_refused(
    app: Flask, email: str, message: str
) -> None:
    with pytest.raises(InvalidEmail) as refused:
        create_user(email, DEFAULT_PASSWORD)

    assert str(refused.value) == message
    assert list_users() == []


IMITATION = (
    "email address looks like the address of an existing account "
    "(letters of another script that resemble Latin ones)"
)


@pytest.mark.parametrize(
    ("existing", "imitation"),
    [
        pytest.param(
            "sea@example.org",
            f"{CYRILLIC['s']}{CYRILLIC['e']}{CYRILLIC['a']}@example.org",
            id="all-cyrillic-local-part",
        ),
        pytest.param(ALICE, "al\N{LATIN SMALL LETTER DOTLESS I}ce@example.org", id="dotless-i"),
    ],
)
def test_an_address_imitating_an_existing_one_is_refused(
    app: Flask, existing: str, imitation: str
) -> None:
    make_user(existing)

    with pytest.raises(InvalidEmail) as refused:
        create_user(imitation, DEFAULT_PASSWORD)

    assert str(refused.value) == IMITATION
    assert [user.email for user in list_users()] == [existing]


@pytest.mark.parametrize(
    "email",
    [
        "jos\N{LATIN SMALL LETTER E WITH ACUTE}@example.org",  # beside jose@: a letter of its own
        f"{CYRILLIC['s']}{CYRILLIC['e']}{CYRILLIC['a']}@example.org",  # no sea@ account
        "\N{CYRILLIC SMALL LETTER I}\N{CYRILLIC SMALL LETTER VE}"
        "\N{CYRILLIC SMALL LETTER A}\N{CYRILLIC SMALL LETTER EN}@example.org",
        "\N{LATIN SMALL LETTER U WITH DIAERESIS}@\N{CJK UNIFIED IDEOGRAPH-4F8B}"
        "\N{HIRAGANA LETTER E}.jp",
        "user2@example.org",
    ],
)
def test_single_script_addresses_are_accepted(app: Flask, email: str) -> None:
    make_user("jose@example.org")

    assert create_user(email, DEFAULT_PASSWORD).email == email

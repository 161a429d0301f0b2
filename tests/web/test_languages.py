"""The language of the pages: Accept-Language, the switcher, and the catalogs we ship.

The switching tests use a catalog of their own, compiled into the operator's folder
(AUTHSERVER_TRANSLATIONS_DIR), so they hold whichever languages the project ships.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import ConfigError, Settings
from authserver.web.languages import LANGUAGE_COOKIE, TRANSLATIONS
from tests.conftest import AppFactory

PROJECT = Path(__file__).resolve().parents[2]


def compile_catalog(folder: Path, language: str, messages: dict[str, str]) -> None:
    catalog = Catalog(locale=language)
    for source, translated in messages.items():
        catalog.add(source, translated)
    target = folder / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)


@pytest.fixture
def dutch_app(make_app: AppFactory, tmp_path: Path) -> Flask:
    own = tmp_path / "translations"
    compile_catalog(own, "nl", {"Language": "Taal", "Change language": "Taal wijzigen"})
    return make_app(translations_dir=str(own))


@pytest.fixture
def dutch(dutch_app: Flask) -> FlaskClient:
    return dutch_app.test_client()


def page_language(client: FlaskClient, path: str = "/login", **headers: str) -> tuple[str, str]:
    page = client.get(path, headers=headers).get_data(as_text=True)
    start = page.index('<html lang="') + len('<html lang="')
    return page[start : page.index('"', start)], page


def test_english_alone_offers_no_switcher(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # English alone: no compiled catalog anywhere, as in a checkout before `make translations`.
    monkeypatch.setattr("authserver.web.languages.TRANSLATIONS", tmp_path / "no-catalogs")
    english_only = make_app().test_client()
    language, page = page_language(english_only, **{"Accept-Language": "nl, de;q=0.8"})
    assert language == "en"
    assert 'action="/language"' not in page


def test_the_browsers_language_is_used_when_it_is_offered(dutch: FlaskClient) -> None:
    language, page = page_language(dutch, **{"Accept-Language": "fr-CH, nl;q=0.9, en;q=0.5"})
    assert language == "nl"
    assert '<label for="language-choice">Taal</label>' in page
    assert "Taal wijzigen" in page
    # Each language is named in itself, so a reader finds their own.
    assert '<option value="nl" lang="nl" selected>Nederlands</option>' in page
    assert '<option value="en" lang="en">English</option>' in page


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        # A regional tag reads its language, in the order of preference the browser gives:
        # Werkzeug's best_match alone would prefer the exact "en" here.
        ("nl-BE, en;q=0.5", "nl"),
        ("en-GB, nl;q=0.9", "en"),
        ("NL_be", "nl"),
        ("nl;q=0, en;q=0.5", "en"),  # q=0: not acceptable
        ("*", "en"),
    ],
)
def test_the_browsers_order_of_preference_decides(
    dutch: FlaskClient, accepted: str, expected: str
) -> None:
    assert page_language(dutch, **{"Accept-Language": accepted})[0] == expected


def test_an_unoffered_browser_language_falls_back_to_english(dutch: FlaskClient) -> None:
    assert page_language(dutch, **{"Accept-Language": "fr, it;q=0.5"})[0] == "en"
    assert page_language(dutch)[0] == "en"


def test_the_switcher_choice_wins_over_the_browser_and_returns_to_the_page(
    dutch: FlaskClient,
) -> None:
    answer = dutch.post(
        "/language",
        data={"language": "en", "next": "/reset?step=1"},
        headers={"Accept-Language": "nl"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/reset?step=1"
    cookie = dutch.get_cookie(LANGUAGE_COOKIE)
    assert cookie is not None and cookie.value == "en"
    assert cookie.http_only and cookie.same_site == "Lax"
    assert page_language(dutch, **{"Accept-Language": "nl"})[0] == "en"


def test_a_language_not_offered_is_refused_and_changes_nothing(dutch: FlaskClient) -> None:
    answer = dutch.post("/language", data={"language": "xx", "next": "/account"})
    assert answer.status_code == 400
    assert dutch.get_cookie(LANGUAGE_COOKIE) is None
    assert "Traceback" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", ""])
def test_the_switcher_never_redirects_off_the_site(dutch: FlaskClient, target: str) -> None:
    answer = dutch.post("/language", data={"language": "nl", "next": target})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_a_stale_cookie_for_a_language_no_longer_offered_is_ignored(dutch: FlaskClient) -> None:
    dutch.set_cookie(LANGUAGE_COOKIE, "xx")
    assert page_language(dutch, **{"Accept-Language": "nl"})[0] == "nl"


def test_a_missing_translations_folder_is_a_configuration_error(tmp_path: Path) -> None:
    environ = {
        "AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance"),
        "AUTHSERVER_TRANSLATIONS_DIR": str(tmp_path / "absent"),
    }
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ, dotenv_path=tmp_path / ".env")
    assert "AUTHSERVER_TRANSLATIONS_DIR: no such folder" in raised.value.problems


def extracted_messages() -> set[str | tuple[str, str]]:
    """Every message the code and templates mark for translation, read by babel.cfg's rules
    (as `pybabel extract -F babel.cfg` does): a text, or (singular, plural) for a count."""
    with (PROJECT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT), method_map=method_map, options_map=options_map
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def test_extraction_finds_the_marked_messages() -> None:
    found = extracted_messages()
    assert {"Language", "Change language"} <= found
    # Module-level constants are marked with lazy_gettext (_l), which babel.cfg names.
    assert "Your current password is not correct." in found
    assert (
        "password must be at least %(num)d character",
        "password must be at least %(num)d characters",
    ) in found


SHIPPED = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


@pytest.mark.parametrize("language", SHIPPED)
def test_a_shipped_language_translates_every_message(language: str) -> None:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    missing = sorted(
        str(message) for message in extracted_messages() if not _is_translated(catalog, message)
    )
    assert missing == [], f"{language}: {len(missing)} untranslated: {missing[:20]}"


def _is_translated(catalog: Catalog, message: str | tuple[str, str]) -> bool:
    """Present, not fuzzy, and every form filled in (a count's entry has one per plural form)."""
    entry = catalog.get(message if isinstance(message, str) else message[0])
    if entry is None or entry.fuzzy:
        return False
    if isinstance(message, tuple):
        forms = entry.string if isinstance(entry.string, tuple) else ()
        return entry.id == message and len(forms) == catalog.num_plurals and all(forms)
    return isinstance(entry.string, str) and bool(entry.string)

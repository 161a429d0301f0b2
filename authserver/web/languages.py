"""The language of the pages: the person's own choice, else their browser's, else English.

Translations are gettext catalogs in ``authserver/translations/<language>/LC_MESSAGES/``,
compiled from the ``.po`` files by ``make`` (``pybabel compile``), and in the operator's own
folder (AUTHSERVER_TRANSLATIONS_DIR), which comes first. A language is offered when a compiled
catalog of it is there; English is the language of the source text and always is.

The choice made with the switcher is kept in a cookie of its own. It is not a secret and says
nothing about the account, so it outlives sign-out and needs no session.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from flask import Blueprint, Flask, abort, current_app, has_request_context, redirect, request
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response

from authserver.config import app_settings
from authserver.config_languages import SOURCE_LANGUAGE
from authserver.extensions import csrf_exempt
from authserver.mail_language import remember_language_choice
from authserver.security.redirects import safe_redirect_target
from authserver.sessions.cookies import is_secure
from authserver.sessions.service import current_session

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGE_COOKIE = "authserver_language"
_COOKIE_MAX_AGE = 365 * 24 * 3600

bp = Blueprint("languages", __name__)


def offered_languages(folders: list[Path]) -> tuple[str, ...]:
    """English, then every language with a compiled catalog in one of ``folders``, by code."""
    compiled = {
        catalog.parent.parent.name
        for folder in folders
        if folder.is_dir()
        for catalog in folder.glob("*/LC_MESSAGES/messages.mo")
    }
    return (SOURCE_LANGUAGE, *sorted(compiled - {SOURCE_LANGUAGE}))


def shipped_languages() -> tuple[str, ...]:
    """The languages pages and mails can be written in, English first."""
    languages: tuple[str, ...] = current_app.extensions["authserver_languages"]
    return languages


def select_language() -> str:
    """The cookie's language if it is still shipped, else the best of Accept-Language.

    Outside a request (a command rendering a mail without a language forced) English.
    """
    if not has_request_context():
        return SOURCE_LANGUAGE
    languages = shipped_languages()
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in languages:
        return chosen
    return browser_language(languages)


def browser_language(languages: tuple[str, ...]) -> str:
    """The first language of Accept-Language, by quality, that we offer, matched by its primary
    subtag when the exact tag is not offered ("de-AT" reads ``de``, "pt" reads ``pt_BR``);
    else English.

    Werkzeug's best_match tries every exact match before any regional one, so "de-AT,
    en;q=0.5" would get English although the reader ranked German first (RFC 9110 §12.5.4:
    the quality values give the order of preference).
    """
    offered = {code.replace("_", "-").lower(): code for code in languages}
    for value, quality in request.accept_languages:  # highest quality first
        if quality <= 0:
            continue  # RFC 9110 §12.4.2: q=0 means "not acceptable"
        tag = value.replace("_", "-").lower()
        primary = tag.partition("-")[0]
        same_language = [code for key, code in offered.items() if key.partition("-")[0] == primary]
        if tag in offered:
            return offered[tag]
        if primary in offered:
            return offered[primary]
        if same_language:
            return same_language[0]
    return SOURCE_LANGUAGE


def current_language() -> str:
    """The language of the page being rendered (``lang`` of the html element)."""
    return str(get_locale() or SOURCE_LANGUAGE)


def language_choices() -> list[tuple[str, str]]:
    """(code, name in that language) for the switcher: people look for their own language's
    name, not its name in the language they cannot read."""
    return [(code, _name_in_itself(code)) for code in shipped_languages()]


def _name_in_itself(code: str) -> str:
    name = Locale.parse(code).get_display_name(code)
    return name[:1].upper() + name[1:] if name else code


@bp.post("/language")
@csrf_exempt
def choose_language() -> Response:
    """The switcher's form: remember the choice, then back to the page it was on.

    Exempt from the CSRF check on purpose: a forged post can only change the language of the
    pages, which the person sees and changes back, and a token would give every page (the
    switcher is on all of them) a cookie session it otherwise does without.
    """
    chosen = request.form.get("language", "")
    if chosen not in shipped_languages():
        abort(400)  # a forged or stale form: nothing is changed
    signed_in = current_session()
    if signed_in is not None:
        remember_language_choice(signed_in.user_id, chosen)
    back = safe_redirect_target(request.form.get("next"), default="/")
    response = redirect(back, code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=_COOKIE_MAX_AGE,
        path="/",
        secure=is_secure(current_app),
        httponly=True,
        samesite="Lax",
    )
    return response


def init_app(app: Flask) -> None:
    own = app_settings(app).translations_dir
    folders = [Path(own), TRANSLATIONS] if own else [TRANSLATIONS]
    app.extensions["authserver_languages"] = offered_languages(folders)
    # Flask-Babel merges the catalogs of every folder, the first one winning for a message.
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(folder) for folder in folders)
    Babel(app, locale_selector=select_language)
    app.jinja_env.globals.update(
        current_language=current_language, language_choices=language_choices
    )
    app.register_blueprint(bp)

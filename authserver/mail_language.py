"""The language of a person's mails: the one they last used on our pages, else English.

A mail is read away from the page that caused it, often by someone who did not ask for it (a
new-device notice, a sign-up attempt with their address), so its language is the account's,
not the request's. The account keeps the language of the pages it last signed in on, was
created on, or chose with the switcher while signed in (``users.language``). An account that
never used the pages (made by an operator) gets the language of the page that sends the mail,
and in a command, English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from flask import g, has_app_context, has_request_context
from flask_babel import LazyString, get_locale
from sqlalchemy import update

from authserver.config_languages import SOURCE_LANGUAGE
from authserver.extensions import db
from authserver.models.users import User

_CARRIED = "authserver_page_language"


def page_language() -> str | None:
    """The language of the page being answered, or of the one whose work runs after its
    response (:func:`carried_page_language`); None in a command."""
    if has_request_context():
        locale = get_locale()
        return None if locale is None else str(locale)
    carried: str | None = g.get(_CARRIED) if has_app_context() else None
    return carried


@contextmanager
def carried_page_language(language: str | None) -> Iterator[None]:
    """Work done once the response has gone (serving/after_response.py) has no request; this
    gives it the page's language, so a mail it sends is written as the page was."""
    setattr(g, _CARRIED, language)
    try:
        yield
    finally:
        g.pop(_CARRIED, None)


def remember_page_language(user: User) -> None:
    """Keep the page's language on ``user`` for later mails; the caller commits."""
    language = page_language()
    if language is not None and user.language != language:
        _store(user.id, language)


def remember_language_choice(user_id: int, language: str) -> None:
    """The switcher was used while signed in: write later mails in ``language`` too."""
    _store(user_id, language)
    db.session.commit()


def _store(user_id: int, language: str) -> None:
    db.session.execute(
        update(User)
        .where(User.id == user_id, User.language.is_distinct_from(language))
        # Not a change of the profile: users.updated_at stays as it was.
        .values(language=language, updated_at=User.updated_at)
    )


def mail_language(stored: str | None) -> str:
    """The language to write to someone in: ``stored`` (their account's ``language``; None for
    an account that never used the pages, or no account), else the page's that caused the mail."""
    return stored or page_language() or SOURCE_LANGUAGE


def written_time(moment: datetime) -> LazyString:
    """``moment`` (aware) as the mail's language writes a date and time, in UTC: "Monday,
    December 7, 2026, 15:04 UTC", "Montag, 7. Dezember 2026, 15:04 UTC". Rendered with the
    mail (mail.render_mail forces its language), so a notice caused on an English page still
    names the day in the recipient's words."""
    return LazyString(_write_time, moment)


def _write_time(moment: datetime) -> str:
    locale = get_locale() or Locale.parse(SOURCE_LANGUAGE)
    date = format_date(moment.astimezone(UTC), "full", locale=locale)
    time = format_time(moment, "HH:mm", tzinfo=UTC, locale=locale)
    # The language's own way of joining a date and a time (CLDR), its quotes removed as
    # babel.dates.format_datetime removes them.
    joined = str(get_datetime_format("long", locale=locale)).replace("'", "")
    return joined.replace("{0}", time).replace("{1}", date) + " UTC"

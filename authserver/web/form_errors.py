"""Field errors of the pages' forms: every problem at once, each tied to the field it is about.

Views put each problem on its field (WTForms' ``field.errors``), those of the form's own checks
and those of the services alike; templates/_fields.html shows them: under the field, linked to
it (``aria-describedby``, ``aria-invalid``), in a summary at the top of the page and as
"Error:" in the title (WCAG 2.2 SC 3.3.1 and 1.3.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask import Flask
from flask_wtf import FlaskForm
from wtforms import Field

from authserver.security.passwords import password_problems
from authserver.web.link_pages import sentence

# Fields a person never sees: their errors are the page's business (web/link_pages.py), never a
# link to a field that is not there.
UNSEEN_FIELD_TYPES = frozenset({"CSRFTokenField", "HiddenField"})


@dataclass(frozen=True)
class FieldProblem:
    field_id: str
    message: str


def field_problems(*forms: FlaskForm | None) -> list[FieldProblem]:
    """Every error of every visible field of ``forms``, in page order (None: no form)."""
    return [
        FieldProblem(field.id, message)
        for form in forms
        if form is not None
        for field in form
        if field.type not in UNSEEN_FIELD_TYPES
        for message in field.errors
    ]


def add_problems(field: Field, messages: Iterable[str]) -> None:
    """Put service messages ("password must be ...") on ``field``, as sentences."""
    # Before validation WTForms keeps an empty tuple there, afterwards a list.
    field.errors = [*field.errors, *(sentence(message) for message in messages)]


def add_password_problems(field: Field, *, email: str) -> bool:
    """Put every rule the typed new password breaks on its field; True when it broke one.

    Checked even when another field failed, so the page lists all there is to correct at once.
    """
    if not field.data or field.errors:
        return False  # the form's own message says enough (empty, or too long to check)
    problems = password_problems(field.data, email=email)
    add_problems(field, problems)
    return bool(problems)


def error_ids(field: Field, also: Sequence[str] = ()) -> list[str]:
    """The ids of the field's messages (its own, then ``also``), as templates/_fields.html
    renders them."""
    first = f"{field.id}-error"
    count = len(field.errors) + len(also)
    return [first if n == 1 else f"{first}-{n}" for n in range(1, count + 1)]


def field_attributes(
    field: Field, attributes: Mapping[str, object], *, hint: bool, also: Sequence[str] = ()
) -> dict[str, object]:
    """The attributes of a field's control: the caller's, and what ties it to its messages.

    ``also`` are messages of the page about this field (a refused code), shown with its own.
    """
    described_by = [*error_ids(field, also), *([f"{field.id}-hint"] if hint else [])]
    tied: dict[str, object] = dict(attributes)
    if described_by:
        tied["aria_describedby"] = " ".join(described_by)
    if field.errors or also:
        tied["aria_invalid"] = "true"
    return tied


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        field_problems=field_problems, field_attributes=field_attributes, error_ids=error_ids
    )

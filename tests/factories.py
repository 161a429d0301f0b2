"""Small builders for test data, made through the real services."""

from __future__ import annotations

from authserver.accounts.lifecycle import create_user
from authserver.extensions import db
from authserver.models import User

DEFAULT_EMAIL = "alice@example.org"
DEFAULT_PASSWORD = "correct horse battery staple"


def make_user(
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    *,
    name: str | None = None,
    disabled: bool = False,
) -> User:
    user = create_user(email, password, name=name)
    if disabled:
        # No disable service yet (an admin command will own it); set the column directly.
        user.is_disabled = True
        db.session.commit()
    return user

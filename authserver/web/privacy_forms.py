"""The forms of the "Your data" section: downloading it and deleting the account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from authserver.security.passwords import MAX_PASSWORD_LENGTH
from authserver.web.forms import MAX_CODE_INPUT_LENGTH


class ExportForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """No fields: only the CSRF token, so another site cannot make the browser fetch it."""


class DeleteAccountForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    password = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(_l("Enter your current password.")),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use at most %(count)d characters.", count=MAX_PASSWORD_LENGTH),
            ),
        ],
    )
    # Asked only when an authenticator app is set up (the view checks; the page shows it then).
    code = StringField(_l("Authentication code"), validators=[Length(max=MAX_CODE_INPUT_LENGTH)])
    confirm = BooleanField(
        _l("I understand that my account and everything in it will be deleted for good."),
        validators=[
            DataRequired(_l("Tick the box to confirm that you want to delete your account."))
        ],
    )


class DeletePasskeyAccountForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """An account without a password (passkeys only): a recent sign-in stands in for it."""

    code = DeleteAccountForm.code
    confirm = DeleteAccountForm.confirm

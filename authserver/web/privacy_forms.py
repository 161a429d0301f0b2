"""The forms of the "Your data" section: downloading it and deleting the account."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from authserver.security.passwords import MAX_PASSWORD_LENGTH
from authserver.web.forms import MAX_CODE_INPUT_LENGTH


class ExportForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """No fields: only the CSRF token, so another site cannot make the browser fetch it."""


class DeleteAccountForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    password = PasswordField(
        "Current password",
        validators=[
            InputRequired("Enter your current password."),
            Length(
                max=MAX_PASSWORD_LENGTH, message=f"Use at most {MAX_PASSWORD_LENGTH} characters."
            ),
        ],
    )
    # Asked only when an authenticator app is set up (the view checks; the page shows it then).
    code = StringField("Authentication code", validators=[Length(max=MAX_CODE_INPUT_LENGTH)])
    confirm = BooleanField(
        "I understand that my account and everything in it will be deleted for good.",
        validators=[DataRequired("Tick the box to confirm that you want to delete your account.")],
    )

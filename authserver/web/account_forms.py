"""The forms of the account page (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from authserver.accounts.lifecycle import MAX_NAME_LENGTH
from authserver.oauth.clients import MAX_CLIENT_ID_LENGTH
from authserver.security.passwords import MAX_PASSWORD_LENGTH


class ProfileForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    name = StringField(
        _l("Name"),
        validators=[
            Length(
                max=MAX_NAME_LENGTH,
                message=_l("Use at most %(count)d characters.", count=MAX_NAME_LENGTH),
            )
        ],
    )


MAX_SID_LENGTH = 64  # browser_sessions.public_id
_TOO_LONG = _l("Use at most %(count)d characters.", count=MAX_PASSWORD_LENGTH)


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    # The policy's maximum bounds every field, so nobody can send megabytes to the hasher.
    current_password = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(_l("Enter your current password.")),
            Length(max=MAX_PASSWORD_LENGTH, message=_TOO_LONG),
        ],
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Choose a new password.")),
            Length(max=MAX_PASSWORD_LENGTH, message=_TOO_LONG),
        ],
    )
    confirm_password = PasswordField(
        _l("Repeat new password"),
        validators=[
            InputRequired(_l("Repeat the new password.")),
            EqualTo("new_password", message=_l("The two new passwords are not the same.")),
        ],
    )


class AddPasswordForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """An account that signs in with passkeys only: no current password to give."""

    new_password = PasswordChangeForm.new_password
    confirm_password = PasswordChangeForm.confirm_password


class SignOutSessionForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    sid = HiddenField(
        validators=[InputRequired(_l("Choose a session to sign out.")), Length(max=MAX_SID_LENGTH)]
    )


class SignOutEverywhereForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """No fields: only the CSRF token, so another site cannot press the button."""


class RevokeAppForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    client_id = HiddenField(
        validators=[
            InputRequired(_l("Choose an app to disconnect.")),
            Length(max=MAX_CLIENT_ID_LENGTH),
        ]
    )

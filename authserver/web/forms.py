"""The HTML forms of the sign-in pages (Flask-WTF: each carries its CSRF token).

Labels are lazy translations (web/languages.py): a form class is built once, at import, and
each page renders its labels in that request's language.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from authserver.accounts.lifecycle import MAX_EMAIL_LENGTH
from authserver.oauth.user_codes import MAX_INPUT_LENGTH as MAX_USER_CODE_INPUT
from authserver.security.passwords import MAX_PASSWORD_LENGTH


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=MAX_EMAIL_LENGTH)])
    # The policy's maximum, so nobody can send megabytes to the hasher.
    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    next = HiddenField()


class SignUpForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """A new account (accounts/sign_up.py); the policy is the service's business."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=MAX_EMAIL_LENGTH)])
    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    next = HiddenField()


class SignOutForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """No fields: only the CSRF token, so another site cannot sign people out."""


class ResetRequestForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=MAX_EMAIL_LENGTH)])


class NewPasswordForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    # Length is the policy's business (it says why); the form only bounds the hasher's work.
    password = PasswordField(
        _l("New password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ChoosePasswordForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """The password of a new account (an invitation); the policy is the service's business."""

    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ConfirmForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """No fields: a button and the CSRF token (e.g. "this address is mine")."""


# Long enough for a recovery code typed with spaces; anything longer is not a code.
MAX_CODE_INPUT_LENGTH = 32


class MfaCodeForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """One field for a 6-digit authenticator code or a recovery code (their shapes differ)."""

    code = StringField(
        _l("Authentication code"), validators=[InputRequired(), Length(max=MAX_CODE_INPUT_LENGTH)]
    )
    next = HiddenField()


class MfaChangeForm(MfaCodeForm):
    """The account's MFA page: set up, replace recovery codes or remove, with a code."""

    # Offered because a session someone else opened before the change would outlive it.
    sign_out_others = BooleanField(_l("Also sign out every other browser signed in to my account"))


class RecoveryCodesSavedForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """The "I have saved them" step after new recovery codes (security/mfa/recovery_handover.py).

    ``saved`` is not a validator's business: the service decides, and shows the codes again.
    """

    saved = BooleanField(_l("I have saved my recovery codes"))
    # The codes sealed for this session: about 400 characters; anything much longer is not ours.
    handover = HiddenField(validators=[InputRequired(), Length(max=2048)])
    replaced = HiddenField()
    next = HiddenField()


class UnlockForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """Confirms an emailed unlock link; the token travels in the body, not in the POST's URL."""

    # 32 random bytes in base64url are 43 characters; anything much longer is not ours.
    token = HiddenField(validators=[InputRequired(), Length(max=64)])


class DeviceCodeForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """The user code a device shows (RFC 8628 §3.3); read leniently by oauth/user_codes.py."""

    user_code = StringField(
        _l("Code"), validators=[InputRequired(), Length(max=MAX_USER_CODE_INPUT)]
    )


class NotMeForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """Confirms a "This wasn't me" link; like the unlock form, the token travels in the body."""

    token = HiddenField(validators=[InputRequired(), Length(max=64)])

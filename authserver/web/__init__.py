"""HTML pages for people, and the error pages every surface shares."""

from __future__ import annotations

from flask import Flask

from authserver.web import (
    account,
    account_privacy,
    device,
    errors,
    form_errors,
    home,
    invitation,
    languages,
    login,
    mfa,
    mfa_setup,
    not_me,
    passkey_sign_in,
    passkeys,
    reset,
    sign_up,
    static_files,
    unavailable,
    unlock,
    verify_email,
)


def init_app(app: Flask) -> None:
    errors.init_app(app)
    static_files.init_app(app)
    form_errors.init_app(app)
    languages.init_app(app)
    unavailable.init_app(app)  # 503 for a dependency that is away, on every surface
    app.register_blueprint(login.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(account_privacy.bp)
    app.register_blueprint(reset.bp)
    app.register_blueprint(verify_email.bp)
    app.register_blueprint(mfa.bp)
    app.register_blueprint(mfa_setup.bp)
    app.register_blueprint(unlock.bp)
    app.register_blueprint(device.bp)
    app.register_blueprint(not_me.bp)
    app.register_blueprint(invitation.bp)
    app.register_blueprint(sign_up.bp)
    app.register_blueprint(passkeys.bp)
    app.register_blueprint(passkey_sign_in.bp)

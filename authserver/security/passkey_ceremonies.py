"""The two WebAuthn ceremonies, checked by the ``webauthn`` library (py_webauthn).

Registration (WebAuthn Level 3 §7.1) and authentication (§7.2): this module makes the options
a page hands to ``navigator.credentials.create()`` / ``.get()`` and checks what comes back. The
library parses the CBOR and COSE and checks the origin, RP id hash, flags and signature; this
module adds what it cannot know: the single-use challenge (security/passkey_challenges.py),
that the passkey belongs to who it should, the lockout gate (security/factor_checks.py) and
the signature counter (§6.1.1), whose step backwards is refused, audited and mailed.

User verification is required in both ceremonies (§7.1 step 15, §7.2 step 17 with
``userVerification: "required"``), so a passkey alone is two factors: something held and
something known or been. Passkeys are discoverable credentials (``residentKey: "required"``),
so the sign-in page needs no e-mail address to ask for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import Passkey, User
from authserver.security.errors import PasskeyRefused
from authserver.security.factor_checks import Factor, check_factor
from authserver.security.passkey_challenges import Purpose, issue_challenge, use_challenge
from authserver.security.passkey_notices import mail_counter_notice

# The exception's message, for logs and tests; pages and the passkey script say a refusal in
# the page's language through Flask-Babel (web/passkey_sign_in.py, web/passkeys.py).
REFUSED = "The passkey was not accepted. Try again, or use another way to sign in."
TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]


def relying_party() -> RelyingParty:
    """From the settings; by default the issuer's host and origin."""
    settings = current_settings()
    issuer = urlsplit(settings.issuer)
    rp_id = settings.webauthn_rp_id or issuer.hostname or ""
    origins = settings.webauthn_origins or (f"{issuer.scheme}://{issuer.netloc}",)
    return RelyingParty(rp_id, settings.webauthn_rp_name or rp_id, origins)


def user_handle(user: User) -> bytes:
    """WebAuthn §14.6.1: the user handle is an opaque id, never an e-mail address."""
    return user.subject.encode()


# --- registration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitee:
    """Whom a passkey is made for before their account exists (an invitation accepted with a
    passkey, accounts/invitation_passkeys.py): the subject the account will have."""

    subject: str
    email: str
    name: str | None
    invitation_id: int


def registration_options(user: User, *, now: datetime) -> str:
    """The JSON options to create a passkey for ``user``; commits the challenge."""
    challenge = issue_challenge("register", user_id=user.id, now=now)
    # §5.4.3: the authenticators that already hold one of the user's passkeys say so.
    return _creation_options(
        user.email, user_handle(user), user.name, challenge, exclude=_descriptors(user.id)
    )


def invitee_registration_options(invitee: Invitee, *, now: datetime) -> str:
    """The JSON options to create the first passkey of an account that does not exist yet;
    commits the challenge, which only an answer for this invitation can use."""
    challenge = issue_challenge(
        "invitation", user_id=None, invitation_id=invitee.invitation_id, now=now
    )
    # The handle is the subject the account will get, so the passkey names it (§14.6.1).
    handle = invitee.subject.encode()
    return _creation_options(invitee.email, handle, invitee.name, challenge, exclude=[])


def _creation_options(
    email: str,
    handle: bytes,
    name: str | None,
    challenge: bytes,
    *,
    exclude: list[PublicKeyCredentialDescriptor],
) -> str:
    rp = relying_party()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=email,
        user_id=handle,
        user_display_name=name or email,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=exclude,
    )
    db.session.commit()
    return options_to_json(options)


def verify_new_passkey(user: User, credential: str, *, now: datetime) -> Passkey:
    """Check the answer to :func:`registration_options` (the browser's JSON text); returns
    the passkey, staged (the caller names it, audits and commits). Raises PasskeyRefused, with
    the challenge used up and the reason audited."""
    parsed: RegistrationCredential = _parse(credential, parse_registration_credential_json)
    if not _take_challenge(parsed, "register", user_id=user.id, now=now):
        _refuse(user, "challenge", during="register")
    outcome = _check_registration(parsed)
    if isinstance(outcome, str):
        _refuse(user, outcome, during="register")
    passkey = _new_passkey(parsed, outcome, now=now)
    passkey.user_id = user.id
    return passkey


def verify_invitee_passkey(invitee: Invitee, credential: str, *, now: datetime) -> Passkey:
    """Check the answer to :func:`invitee_registration_options`; returns the passkey, staged,
    without its account (the caller creates that, and commits both together). Raises
    PasskeyRefused, with the challenge used up and the reason audited as a failed invitation.
    """
    parsed: RegistrationCredential = _parse(credential, parse_registration_credential_json)
    taken = _take_challenge(
        parsed, "invitation", user_id=None, invitation_id=invitee.invitation_id, now=now
    )
    outcome = _check_registration(parsed) if taken else "challenge"
    if isinstance(outcome, str):
        record_event(
            EventTag.INVITATION_FAILED,
            outcome="failure",
            detail={"reason": f"passkey-{outcome}"},
        )
        db.session.commit()
        raise PasskeyRefused(REFUSED)
    return _new_passkey(parsed, outcome, now=now)


def _check_registration(parsed: RegistrationCredential) -> VerifiedRegistration | str:
    """The library's verdict (WebAuthn §7.1): the verified registration, or why not."""
    rp = relying_party()
    try:
        return verify_registration_response(
            credential=parsed,
            expected_challenge=_signed_challenge(parsed),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except WebAuthnException as error:
        return _reason(error)


def _new_passkey(
    parsed: RegistrationCredential, verified: VerifiedRegistration, *, now: datetime
) -> Passkey:
    # Each transport once: the list is the client's to write, and thirty "internal" say no more
    # than one (nor fit the column).
    transports = sorted({str(t.value) for t in parsed.response.transports or []})
    return Passkey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(transports),
        backup_eligible=verified.credential_device_type.value == "multi_device",
        backup_state=verified.credential_backed_up,
        created_at=now,
    )


# --- authentication --------------------------------------------------------------------------


def authentication_options(purpose: Purpose, *, user: User | None, now: datetime) -> str:
    """The JSON options to sign in with a passkey; commits the challenge.

    Without ``user`` (a passwordless sign-in) no passkey is named: the browser offers the
    discoverable ones it has for us, and the answer says whose it is.
    """
    options = generate_authentication_options(
        rp_id=relying_party().id,
        challenge=issue_challenge(purpose, user_id=None if user is None else user.id, now=now),
        timeout=TIMEOUT_MS,
        allow_credentials=[] if user is None else _descriptors(user.id),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    db.session.commit()
    return options_to_json(options)


def verify_assertion(
    credential: str, purpose: Purpose, *, user: User | None, during: str, now: datetime
) -> Passkey:
    """Check the answer to :func:`authentication_options` through the lockout gate and record
    the passkey's use (staged; the caller commits, with the session it starts).

    Raises PasskeyRefused (audited; counted toward the lockout once the account is known) or
    TooManyAttempts (locked: the signature is not looked at).
    """
    parsed: AuthenticationCredential = _parse(credential, parse_authentication_credential_json)
    passkey: Passkey | None = db.session.scalar(
        select(Passkey).where(Passkey.credential_id == parsed.raw_id)
    )
    owner = None if passkey is None else db.session.get(User, passkey.user_id)
    challenge_taken = _take_challenge(
        parsed, purpose, user_id=None if user is None else user.id, now=now
    )
    if passkey is None or owner is None or (user is not None and owner.id != user.id):
        _refuse(user, "unknown-passkey", during=during)
    handle = parsed.response.user_handle
    # §7.2 step 6: a discoverable credential's user handle must be its owner's.
    if handle is not None and handle != user_handle(owner):
        _refuse(owner, "user-handle", during=during)
    counter_went_back = False

    def check() -> bool | str:
        nonlocal counter_went_back
        if not challenge_taken:
            return "passkey-challenge"
        if owner.is_disabled:
            return "disabled"
        outcome = _check_signature(parsed, passkey, now=now)
        counter_went_back = outcome == "passkey-counter"
        return outcome

    factor: Factor = "passkey" if user is None else "mfa"
    if not check_factor(owner, check, factor=factor, during=during, now=now):
        if counter_went_back:
            _report_counter(owner, passkey, now=now)
        raise PasskeyRefused(REFUSED)
    if user is not None:  # the second step, as a code's is recorded (security/mfa)
        detail = {"method": "passkey", "during": during}
        record_event(EventTag.MFA_VERIFIED, user_subject=owner.subject, detail=detail)
    return passkey


def _check_signature(
    parsed: AuthenticationCredential, passkey: Passkey, *, now: datetime
) -> bool | str:
    rp = relying_party()
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=_signed_challenge(parsed),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            # The counter is compared below, after the signature: only a genuine assertion
            # with an old counter is a sign of a cloned authenticator worth telling the owner.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except WebAuthnException as error:
        return f"passkey-{_reason(error)}"
    # WebAuthn Level 3 §7.2 step 22: a counter that did not grow (when either is non-zero)
    # means two copies of the credential exist; the relying party refuses the ceremony.
    stored = passkey.sign_count
    if (verified.new_sign_count > 0 or stored > 0) and verified.new_sign_count <= stored:
        return "passkey-counter"
    db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id)
        .values(
            sign_count=verified.new_sign_count,
            backup_state=verified.credential_backed_up,
            last_used_at=now,
        )
    )
    return True


# --- helpers ---------------------------------------------------------------------------------


def _parse(credential: str, parse: Any) -> Any:  # Any: either of the library's parsers
    """The library's parsed credential, or PasskeyRefused for a body of the wrong shape."""
    try:
        return parse(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRefused(REFUSED) from None


def _signed_challenge(parsed: RegistrationCredential | AuthenticationCredential) -> bytes:
    return parse_client_data_json(parsed.response.client_data_json).challenge


def _take_challenge(
    parsed: RegistrationCredential | AuthenticationCredential,
    purpose: Purpose,
    *,
    user_id: int | None,
    now: datetime,
    invitation_id: int | None = None,
) -> bool:
    try:
        challenge = _signed_challenge(parsed)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        return False
    taken = use_challenge(challenge, purpose, user_id=user_id, invitation_id=invitation_id, now=now)
    db.session.commit()  # used up whatever the rest of the answer says
    return taken


def _refuse(user: User | None, reason: str, *, during: str) -> NoReturn:
    if user is not None:
        record_event(
            EventTag.PASSKEY_FAILURE,
            outcome="failure",
            user_subject=user.subject,
            detail={"reason": reason, "during": during},
        )
        db.session.commit()
    raise PasskeyRefused(REFUSED)


def _reason(error: WebAuthnException) -> str:
    """A short audit reason from the library's message (which names no secret)."""
    text = str(error).lower()
    for needle, reason in (
        ("origin", "origin"),
        ("rp id", "rp-id"),
        ("verification", "user-verification"),
        ("present", "user-presence"),
        ("challenge", "challenge"),
        ("signature", "signature"),
    ):
        if needle in text:
            return reason
    return "invalid"


def _report_counter(owner: User, passkey: Passkey, *, now: datetime) -> None:
    record_event(
        EventTag.PASSKEY_COUNTER_REGRESSED,
        outcome="failure",
        user_subject=owner.subject,
        detail={"passkey": passkey.id, "name": passkey.name},
    )
    db.session.commit()
    mail_counter_notice(owner, passkey_name=passkey.name, now=now)


def _descriptors(user_id: int) -> list[PublicKeyCredentialDescriptor]:
    passkeys = db.session.scalars(select(Passkey).where(Passkey.user_id == user_id))
    return [
        PublicKeyCredentialDescriptor(
            id=passkey.credential_id,
            transports=[AuthenticatorTransport(t) for t in passkey.transports.split(",") if t],
        )
        for passkey in passkeys
    ]

"""The one way to record a security event: a database row, a log line and a metric.

Rows are added to the caller's transaction, so the event commits (or rolls back) together with
the change it describes. Never put a password, token, code, secret or key in `detail`.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from flask import has_request_context, request

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from authserver.observability.metrics import count_audit_event
from authserver.observability.request_id import current_request_id
from authserver.observability.request_log import note_request_party

log = logging.getLogger("authserver.audit")

MAX_USER_AGENT_LENGTH = 512


class EventTag(StrEnum):
    CLIENT_CREATED = "client:create"
    CLIENT_DELETED = "client:delete"
    CLIENT_SECRET_ROTATED = "client:rotate-secret"
    # A back-channel logout token the client's endpoint never accepted within the retry bound.
    LOGOUT_TOKEN_GIVEN_UP = "client:logout-token:failure"
    API_CREATED = "api:create"
    API_UPDATED = "api:update"
    API_DELETED = "api:delete"
    TOKEN_ISSUED = "token:issue"
    TOKEN_REVOKED = "token:revoke"
    # RFC 8693: a client exchanged a user's access token for one for another API.
    TOKEN_EXCHANGED = "token:exchange"
    CODE_REPLAYED = "token:code-replay:failure"
    REFRESH_REUSED = "token:refresh-reuse:failure"
    CONSENT_GIVEN = "consent:give"
    # RFC 8628: the person's decision on a device's request, and wrong user codes (§5.1).
    DEVICE_APPROVED = "device:approve"
    DEVICE_DENIED = "device:deny"
    USER_CODE_FAILURE = "device:user-code:failure"
    CONSENT_REVOKED = "consent:revoke"
    LOGOUT = "user:logout"
    PROFILE_UPDATED = "user:profile:update"
    PASSWORD_CHANGED = "user:password-change"
    PASSWORD_CHANGE_FAILED = "user:password-change:failure"
    # The first password of an account that signed in with passkeys only.
    PASSWORD_ADDED = "user:password-add"
    SESSION_REVOKED = "user:session:revoke"
    SESSIONS_REVOKED_ALL = "user:sessions:revoke-all"
    # Asked for when a second factor was set up or removed: every session but the asking one.
    SESSIONS_REVOKED_OTHERS = "user:sessions:revoke-others"
    PASSWORD_RESET_REQUESTED = "user:password-reset:request"
    PASSWORD_RESET = "user:password-reset"
    PASSWORD_RESET_FAILED = "user:password-reset:failure"
    EMAIL_VERIFICATION_REQUESTED = "user:email-verification:request"
    EMAIL_VERIFIED = "user:email-verification"
    EMAIL_VERIFICATION_FAILED = "user:email-verification:failure"
    MFA_ENROLLED = "user:mfa:enrol"
    MFA_REMOVED = "user:mfa:remove"
    MFA_RESET = "user:mfa:reset"  # by an administrator
    MFA_VERIFIED = "user:mfa:verify"  # a sign-in (or step-up) completed its second factor
    MFA_FAILURE = "user:mfa:failure"
    RECOVERY_CODE_USED = "user:mfa:recovery-code-used"
    RECOVERY_CODES_REGENERATED = "user:mfa:recovery-codes-regenerate"
    # Passkeys (security/passkeys.py): added, renamed, removed (by the owner or an operator),
    # a refused ceremony, and a signature counter that went backwards (a cloned authenticator?).
    PASSKEY_ADDED = "user:passkey:add"
    PASSKEY_RENAMED = "user:passkey:rename"
    PASSKEY_REMOVED = "user:passkey:remove"
    PASSKEY_FAILURE = "user:passkey:failure"
    PASSKEY_COUNTER_REGRESSED = "user:passkey:counter:failure"
    LOGIN = "user:login"
    LOGIN_FAILURE = "user:login:failure"
    LOCKOUT = "user:lockout"
    # The owner was mailed: the right password, then a wrong second factor (ASVS V6.3.5).
    PARTIAL_SIGN_IN_NOTICE = "user:login:partial-notice"
    # The owner was mailed: a sign-in from a browser new to the account (not its first).
    NEW_DEVICE_NOTICE = "user:login:new-device-notice"
    # The owner used that notice's "This wasn't me" link (or a refused one: outcome failure).
    NOT_ME = "user:login:not-me"
    NOT_ME_FAILED = "user:login:not-me:failure"
    UNLOCK = "user:unlock"
    # Registration (accounts/invitations.py, accounts/sign_up.py).
    INVITATION_ACCEPTED = "user:invitation:accept"
    INVITATION_FAILED = "user:invitation:failure"
    SIGN_UP = "user:sign-up"
    # Nothing made: the address has an account (its owner was mailed) or is refused.
    SIGN_UP_FAILED = "user:sign-up:failure"
    DATA_EXPORTED = "user:data-export"
    ACCOUNT_DELETED = "user:delete"
    KEY_ROTATED = "key:rotate"  # any change of the signing-key set: rotate, promote, remove
    # Administrators' actions (the CLI); `detail` says what changed, never a secret.
    ADMIN_USER_DISABLED = "admin:user:disable"
    ADMIN_USER_ENABLED = "admin:user:enable"
    ADMIN_USER_INVITED = "admin:user:invite"
    ADMIN_PASSWORD_SET = "admin:user:set-password"
    ADMIN_SESSIONS_REVOKED = "admin:user:revoke-sessions"
    ADMIN_ROLE_ADDED = "admin:user:role-add"
    ADMIN_ROLE_REMOVED = "admin:user:role-remove"
    ADMIN_CLIENT_UPDATED = "admin:client:update"
    ADMIN_SECRETS_REENCRYPTED = "admin:secrets:reencrypt"
    ADMIN_PURGE = "admin:maintenance:purge"
    KEY_RETIRED = "key:retire"


def record_event(
    tag: EventTag,
    *,
    outcome: str = "success",
    user_subject: str | None = None,
    client_id: str | None = None,
    detail: dict[str, Any] | None = None,  # Any: small JSON-ready facts about the event
    include_origin: bool = True,
) -> AuditEvent:
    """Stage one audit row (committed by the caller) and write its log line.

    ``include_origin=False`` leaves out the request's IP address and user agent: for events
    that must not point back at a person, such as the deletion of their account.
    """
    ip, user_agent = _request_origin() if include_origin else (None, None)
    request_id = current_request_id()
    event = AuditEvent(
        event=str(tag),
        outcome=outcome,
        user_subject=user_subject,
        client_id=client_id,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
        detail=detail or {},
    )
    db.session.add(event)
    _log_event(tag, outcome, user_subject, client_id, ip, request_id, detail or {})
    return event


def log_event(
    tag: EventTag,
    *,
    client_id: str,
    detail: dict[str, Any],  # Any: small JSON-ready facts about the event
) -> None:
    """The log line (and the count) of an event, without a row: only for machine traffic
    whose every request would otherwise be a database write (client-credentials tokens, see
    oauth/tokens.py). It carries the same fields as :func:`record_event`'s line."""
    ip = request.remote_addr if has_request_context() else None
    _log_event(tag, "success", None, client_id, ip, current_request_id(), detail)


def _log_event(
    tag: EventTag,
    outcome: str,
    user_subject: str | None,
    client_id: str | None,
    ip: str | None,
    request_id: str | None,
    detail: dict[str, Any],  # Any: JSON-ready values
) -> None:
    note_request_party(user_subject=user_subject, client_id=client_id)
    log.info(
        "audit %s",
        tag,
        extra={
            "event": str(tag),
            "outcome": outcome,
            "user_subject": user_subject,
            "client_id": client_id,
            "ip": ip,
            "request_id": request_id,
            "detail": detail,
        },
    )
    # Sign-in failures, lockouts, MFA failures, refresh reuse and code replays are all audit
    # events: one counter by tag and outcome covers them (never a user, client or address).
    count_audit_event(str(tag), outcome)


def _request_origin() -> tuple[str | None, str | None]:
    if not has_request_context():
        return None, None
    user_agent = request.user_agent.string[:MAX_USER_AGENT_LENGTH] or None
    return request.remote_addr, user_agent

"""The one way to record a security event: a database row and a log line, same content.

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
from authserver.observability.request_id import current_request_id

log = logging.getLogger("authserver.audit")

MAX_USER_AGENT_LENGTH = 512


class EventTag(StrEnum):
    CLIENT_CREATED = "client:create"
    CLIENT_DELETED = "client:delete"
    CLIENT_SECRET_ROTATED = "client:rotate-secret"
    TOKEN_ISSUED = "token:issue"
    TOKEN_REVOKED = "token:revoke"
    CODE_REPLAYED = "token:code-replay:failure"
    REFRESH_REUSED = "token:refresh-reuse:failure"
    CONSENT_GIVEN = "consent:give"
    CONSENT_REVOKED = "consent:revoke"
    LOGOUT = "user:logout"
    PROFILE_UPDATED = "user:profile:update"
    PASSWORD_CHANGED = "user:password-change"
    PASSWORD_CHANGE_FAILED = "user:password-change:failure"
    SESSION_REVOKED = "user:session:revoke"
    SESSIONS_REVOKED_ALL = "user:sessions:revoke-all"
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
    LOGIN = "user:login"
    LOGIN_FAILURE = "user:login:failure"
    LOCKOUT = "user:lockout"
    UNLOCK = "user:unlock"
    # Administrators' actions (the CLI); `detail` says what changed, never a secret.
    ADMIN_USER_DISABLED = "admin:user:disable"
    ADMIN_USER_ENABLED = "admin:user:enable"
    ADMIN_PASSWORD_SET = "admin:user:set-password"
    ADMIN_SESSIONS_REVOKED = "admin:user:revoke-sessions"
    ADMIN_ROLE_ADDED = "admin:user:role-add"
    ADMIN_ROLE_REMOVED = "admin:user:role-remove"
    ADMIN_CLIENT_UPDATED = "admin:client:update"
    ADMIN_SECRETS_REENCRYPTED = "admin:secrets:reencrypt"
    ADMIN_PURGE = "admin:maintenance:purge"
    KEY_ROTATED = "key:rotate"
    KEY_RETIRED = "key:retire"


def record_event(
    tag: EventTag,
    *,
    outcome: str = "success",
    user_subject: str | None = None,
    client_id: str | None = None,
    detail: dict[str, Any] | None = None,  # Any: small JSON-ready facts about the event
) -> AuditEvent:
    ip, user_agent = _request_origin()
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
            "detail": detail or {},
        },
    )
    return event


def _request_origin() -> tuple[str | None, str | None]:
    if not has_request_context():
        return None, None
    user_agent = request.user_agent.string[:MAX_USER_AGENT_LENGTH] or None
    return request.remote_addr, user_agent

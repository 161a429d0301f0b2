"""Everything we hold about a person, as one JSON document (GDPR Art. 15 and 20).

The account page's download (``POST /account/export``) and ``authserver user export EMAIL``
both call :func:`export_account`, so they hand out the same document. It is built from an
allow-list of facts: never a password hash, TOTP secret, recovery code, token, token hash or
cookie value, only what those things are and when they were made or used.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from authserver.accounts.roles import list_roles
from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models import AuditEvent, LoginDevice, User
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.oauth.consents import list_connected_apps
from authserver.oauth.scopes import parse_scope
from authserver.oauth.token_lookup import is_refresh_token_active
from authserver.security.mfa.second_factor import get_mfa_status
from authserver.security.passkeys import list_passkeys
from authserver.sessions.service import is_live, session_store
from authserver.sessions.store import StoredSession
from authserver.sessions.user_agents import describe_device

EXPORT_FORMAT = "authserver.account-export.v1"

Document = dict[str, Any]  # Any: JSON values of every kind


def export_account(user: User, *, now: datetime, via: str) -> Document:
    """The user's data as of ``now``; records that it was handed out (``via``) and commits.

    The export's own audit row is written after the document is built, so it appears in the
    next export, not in this one.
    """
    document = build_export(user, now=now)
    record_event(EventTag.DATA_EXPORTED, user_subject=user.subject, detail={"via": via})
    db.session.commit()
    return document


def render_export(document: Document) -> str:
    """The file's text: the same bytes the CLI prints for the same document."""
    return json.dumps(document, indent=2, sort_keys=True)


def build_export(user: User, *, now: datetime) -> Document:
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "account": _account(user),
        "mfa": _mfa(user),
        "sessions": [_session(stored, user, now=now) for stored in _stored_sessions(user)],
        "consents": _consents(user),
        "refresh_grants": _refresh_grants(user, now=now),
        "recognised_browsers": _recognised_browsers(user),
        "passkeys": _passkeys(user),
        "audit_events": _audit_events(user),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _account(user: User) -> Document:
    return {
        "subject": user.subject,
        "email": user.email,
        "email_verified": user.is_email_verified,
        "email_verified_at": _iso(user.email_verified_at),
        "name": user.name,
        "language": user.language,
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
        "first_signed_in_at": _iso(user.first_sign_in_at),
        "disabled": user.is_disabled,
        "locked_until": _iso(user.locked_until),
        "roles": list_roles(user.id),
    }


def _mfa(user: User) -> Document:
    status = get_mfa_status(user.id)
    return {
        "enabled": status.is_enrolled,
        "enabled_at": _iso(status.enrolled_at),
        "recovery_codes_left": status.recovery_codes_left,
    }


def _stored_sessions(user: User) -> list[StoredSession]:
    return session_store().list_all_for_user(user.id)


def _session(stored: StoredSession, user: User, *, now: datetime) -> Document:
    return {
        "device": describe_device(stored.user_agent),
        "user_agent": stored.user_agent,
        "ip": stored.ip,
        "signed_in_at": _iso(stored.created_at),
        "last_seen_at": _iso(stored.last_seen_at),
        "expires_at": _iso(stored.expires_at),
        "signed_out_at": _iso(stored.revoked_at),
        "methods": list(stored.amr),
        "active": is_live(stored, user, now=now),
    }


def _consents(user: User) -> list[Document]:
    return [
        {
            "client_id": app.client_id,
            "client_name": app.name,
            "scopes": list(app.scopes),
            "granted_at": _iso(app.granted_at),
        }
        for app in list_connected_apps(user)
    ]


def _refresh_grants(user: User, *, now: datetime) -> list[Document]:
    """One entry per refresh-token family (a grant), described by its newest token."""
    families = db.session.execute(
        select(RefreshFamily, Client)
        .join(Client, Client.id == RefreshFamily.client_pk)
        .where(RefreshFamily.user_id == user.id)
        .order_by(RefreshFamily.created_at, RefreshFamily.id)
    ).all()
    grants = []
    for family, client in families:
        newest = db.session.scalar(
            select(RefreshToken)
            .where(RefreshToken.family_id == family.id)
            .order_by(RefreshToken.id.desc())
            .limit(1)
        )
        if newest is None:
            continue  # a family is created together with its first token; never empty
        grants.append(
            {
                "client_id": client.client_id,
                "client_name": client.name,
                "scopes": parse_scope(newest.scope),
                "created_at": _iso(family.created_at),
                "last_refreshed_at": _iso(newest.created_at),
                "expires_at": _iso(newest.expires_at),
                "revoked_at": _iso(family.revoked_at or newest.revoked_at),
                "active": is_refresh_token_active(newest, now=now),
            }
        )
    return grants


def _recognised_browsers(user: User) -> list[Document]:
    devices = db.session.scalars(
        select(LoginDevice)
        .where(LoginDevice.user_id == user.id)
        .order_by(LoginDevice.created_at, LoginDevice.id)
    )
    return [
        {
            "recognised_since": _iso(device.created_at),
            "expires_at": _iso(device.expires_at),
            "locked_until": _iso(device.locked_until),
        }
        for device in devices
    ]


def _passkeys(user: User) -> list[Document]:
    """What the account page shows of each passkey; never its public key or credential id,
    which are the authenticator's, not facts about the person."""
    return [
        {
            "name": passkey.name,
            "added_at": _iso(passkey.created_at),
            "last_used_at": _iso(passkey.last_used_at),
            "synced": passkey.is_synced,
        }
        for passkey in list_passkeys(user.id)
    ]


def _audit_events(user: User) -> list[Document]:
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.user_subject == user.subject).order_by(AuditEvent.id)
    )
    return [
        {
            "occurred_at": _iso(row.occurred_at),
            "event": row.event,
            "outcome": row.outcome,
            "client_id": row.client_id,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "request_id": row.request_id,
            "detail": row.detail,
        }
        for row in rows
    ]

"""The apps a user has allowed (table ``consents``): recording, listing and taking it back.

Revoking a consent is meant to cut the app off now, not at the next sign-in: every grant the
app holds for the user is revoked (refresh tokens through their family, access tokens through
the grant deny list, :mod:`authserver.oauth.grant_revocation`), and codes not yet exchanged are
deleted. The next authorization request asks for consent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import User
from authserver.models.clients import Client
from authserver.models.device_codes import APPROVED, DENIED, DeviceCode
from authserver.models.tokens import AuthorizationCode, Consent, RefreshFamily
from authserver.oauth.deny_list import longest_access_token_lifetime
from authserver.oauth.errors import UnknownConsent
from authserver.oauth.grant_revocation import revoke_grant
from authserver.oauth.scopes import format_scope, parse_scope
from authserver.sessions import BrowserSession


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    granted_at: datetime


def list_connected_apps(user: User) -> list[ConnectedApp]:
    """The clients the user has consented to, by name."""
    rows = db.session.execute(
        select(Consent, Client)
        .join(Client, Client.id == Consent.client_pk)
        .where(Consent.user_id == user.id)
        .order_by(Client.name, Client.client_id)
    )
    return [
        ConnectedApp(
            client_id=client.client_id,
            name=client.name,
            scopes=tuple(parse_scope(consent.scope)),
            granted_at=consent.granted_at,
        )
        for consent, client in rows
    ]


def revoke_connected_app(user: User, client_id: str, *, now: datetime) -> None:
    """Delete the user's consent to ``client_id`` and revoke everything the client holds.

    :class:`UnknownConsent` when there is no such consent. Commits with its audit event.
    """
    consent = db.session.scalar(
        select(Consent)
        .join(Client, Client.id == Consent.client_pk)
        .where(Consent.user_id == user.id, Client.client_id == client_id)
    )
    if consent is None:
        raise UnknownConsent("no consent for this client")
    grant_ids = _grants_to_revoke(user.id, consent.client_pk, now=now)
    refresh_tokens = sum(revoke_grant(grant_id, now=now) for grant_id in sorted(grant_ids))
    db.session.execute(
        delete(AuthorizationCode).where(
            AuthorizationCode.user_id == user.id,
            AuthorizationCode.client_pk == consent.client_pk,
            AuthorizationCode.used_at.is_(None),
        )
    )
    # An approved device request not yet redeemed (RFC 8628) is refused from now on.
    db.session.execute(
        update(DeviceCode)
        .where(
            DeviceCode.user_id == user.id,
            DeviceCode.client_pk == consent.client_pk,
            DeviceCode.status == APPROVED,
            DeviceCode.used_at.is_(None),
        )
        .values(status=DENIED)
    )
    db.session.delete(consent)
    record_event(
        EventTag.CONSENT_REVOKED,
        user_subject=user.subject,
        client_id=client_id,
        detail={"grants_revoked": len(grant_ids), "refresh_tokens_revoked": refresh_tokens},
    )
    db.session.commit()


def _grants_to_revoke(user_id: int, client_pk: int, *, now: datetime) -> set[str]:
    """Refresh families still open, and grants whose access tokens may still be alive.

    A grant without a refresh token (no offline_access) has no family row; its access tokens
    are found through the code that started it (an authorization or a device code), if that
    code is recent enough for them to live.
    """
    families = db.session.scalars(
        select(RefreshFamily.id).where(
            RefreshFamily.user_id == user_id,
            RefreshFamily.client_pk == client_pk,
            RefreshFamily.revoked_at.is_(None),
        )
    )
    settings = current_settings()
    window = timedelta(seconds=settings.auth_code_ttl + longest_access_token_lifetime())
    recent_codes = db.session.scalars(
        select(AuthorizationCode.grant_id).where(
            AuthorizationCode.user_id == user_id,
            AuthorizationCode.client_pk == client_pk,
            AuthorizationCode.used_at.is_not(None),
            AuthorizationCode.created_at > now - window,
        )
    )
    recent_devices = db.session.scalars(
        select(DeviceCode.grant_id).where(
            DeviceCode.user_id == user_id,
            DeviceCode.client_pk == client_pk,
            DeviceCode.used_at > now - timedelta(seconds=longest_access_token_lifetime()),
        )
    )
    return set(families) | set(recent_codes) | set(recent_devices)


def find_consent(user_id: int, client_pk: int) -> Consent | None:
    return db.session.scalar(
        select(Consent).where(Consent.user_id == user_id, Consent.client_pk == client_pk)
    )


def remember_consent(
    session: BrowserSession, client: Client, scopes: tuple[str, ...], *, now: datetime
) -> None:
    """Add ``scopes`` to the user's consent to ``client`` and stage its audit row (uncommitted).

    Used by the authorization endpoint and the device grant's approval (oauth/device_codes.py):
    either way the app then shows among the user's allowed apps, and revoking it there cuts it
    off.
    """
    consent = find_consent(session.user_id, client.id)
    if consent is None:
        consent = Consent(user_id=session.user_id, client_pk=client.id, scope="")
        db.session.add(consent)
    known = parse_scope(consent.scope)
    consent.scope = format_scope([*known, *(s for s in scopes if s not in known)])
    consent.granted_at = now
    record_event(
        EventTag.CONSENT_GIVEN,
        user_subject=session.user_subject,
        client_id=client.client_id,
        detail={"scope": format_scope(scopes)},
    )

"""Device authorization requests (RFC 8628): the codes, the person's decision, the device's polls.

A request starts at the device authorization endpoint with a device code (256 random bits,
kept by the device) and a user code (typed by a person at ``/device``); only hashes of both
are stored. The person signs in, reads what the device asks for and approves or denies; the
device polls the token endpoint until then. Each step that changes the row is one conditional
UPDATE, so two instances acting at once cannot both decide, nor both issue tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.device_codes import APPROVED, DENIED, PENDING, DeviceCode
from authserver.oauth.consents import remember_consent
from authserver.oauth.requested_access import granted_scopes
from authserver.oauth.scopes import format_scope, parse_scope
from authserver.oauth.user_codes import display, hash_user_code, new_user_code, normalise
from authserver.sessions import BrowserSession

# STYLE.md: tokens for different purposes never share a salt.
_TICKET_SALT = "authserver.device-verification.v1"
_USER_CODE_ATTEMPTS = 5  # fresh user codes tried when one collides with a stored one


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the device is told (RFC 8628 §3.2); the codes exist nowhere else in clear."""

    device_code: str
    user_code: str  # as shown, two groups of four: "BCDF-GHJK"
    expires_in: int
    interval: int


class InvalidUserCode(LookupError):
    """The code entered is not a request waiting for a decision; ``reason`` is for the audit."""

    def __init__(self, reason: str, row: DeviceCode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


class DeviceRequestGone(LookupError):
    """The request expired or was decided meanwhile (another tab, another instance)."""


def hash_device_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def start_device_authorization(
    client: Client, scopes: tuple[str, ...], resources: tuple[str, ...], *, now: datetime
) -> DeviceAuthorization:
    """Store a new request for ``client`` (validated scopes and APIs); commits."""
    settings = current_settings()
    device_code = secrets.token_urlsafe(32)  # 256 bits
    for _ in range(_USER_CODE_ATTEMPTS):
        user_code = new_user_code()
        db.session.add(
            DeviceCode(
                device_code_hash=hash_device_code(device_code),
                user_code_hash=hash_user_code(user_code),
                grant_id=str(uuid.uuid4()),
                client_pk=client.id,
                scope=format_scope(granted_scopes(client, scopes)),
                resources=list(resources),
                status=PENDING,
                amr=[],
                interval=settings.device_code_interval,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.device_code_ttl),
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            # The user code is taken (1 in 2.5e10 per stored row): the unique index said so.
            db.session.rollback()
            continue
        return DeviceAuthorization(
            device_code=device_code,
            user_code=display(user_code),
            expires_in=settings.device_code_ttl,
            interval=settings.device_code_interval,
        )
    raise RuntimeError("no free user code after several attempts")


def find_request_for_user_code(
    entered: str, *, now: datetime, user_subject: str | None
) -> DeviceCode:
    """The request waiting for a decision under the code a person typed.

    Anything else raises :class:`InvalidUserCode` after committing a
    ``device:user-code:failure`` row (RFC 8628 §5.1: guesses are watched); the reason
    (malformed, unknown, expired, decided) is for the audit trail only.
    """
    code = normalise(entered)
    row: DeviceCode | None = None
    if code is not None:
        row = db.session.scalar(
            select(DeviceCode).where(DeviceCode.user_code_hash == hash_user_code(code))
        )
    problem = _user_code_problem(code, row, now=now)
    if problem is None:
        assert row is not None
        return row
    client = db.session.get(Client, row.client_pk) if row is not None else None
    record_event(
        EventTag.USER_CODE_FAILURE,
        outcome="failure",
        user_subject=user_subject,
        client_id=client.client_id if client is not None else None,
        detail={"reason": problem},
    )
    db.session.commit()
    raise InvalidUserCode(problem, row)


def _user_code_problem(code: str | None, row: DeviceCode | None, *, now: datetime) -> str | None:
    if code is None:
        return "malformed"
    if row is None:
        return "unknown"
    if row.expires_at <= now:
        return "expired"
    if row.status != PENDING:
        return "decided"
    return None


# --- the ticket: which request the pages after /device are about ------------------------------


def verification_ticket(row: DeviceCode) -> str:
    """A signed reference to the request, carried through sign-in and MFA in ``next``.

    It names the row, never the user code, so the pages after ``/device`` cannot be used to
    test codes without the rate limit, and no code lands in a URL, log or Referer.
    """
    return _serializer().dumps(row.id)


def find_request_for_ticket(ticket: str, *, now: datetime) -> DeviceCode:
    """The request a ticket names, while it still waits; :class:`DeviceRequestGone` otherwise."""
    try:
        row_id = _serializer().loads(ticket, max_age=current_settings().device_code_ttl)
    except BadData:
        raise DeviceRequestGone("bad ticket") from None
    row = db.session.get(DeviceCode, row_id) if isinstance(row_id, int) else None
    if row is None or row.status != PENDING or row.expires_at <= now:
        raise DeviceRequestGone("not waiting")
    return row


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TICKET_SALT)


# --- the person's decision ---------------------------------------------------------------------

_DECIDE = (
    update(DeviceCode)
    .where(
        DeviceCode.id == bindparam("row_id"),
        DeviceCode.status == PENDING,
        DeviceCode.expires_at > bindparam("now"),
    )
    .values(
        status=bindparam("status"),
        user_id=bindparam("user_id"),
        auth_time=bindparam("auth_time"),
        acr=bindparam("acr"),
        amr=bindparam("amr"),
        decided_at=bindparam("now"),
    )
    .returning(DeviceCode.id)
    .execution_options(synchronize_session=False)
)


def decide_device_request(
    row: DeviceCode, session: BrowserSession, *, approve: bool, now: datetime
) -> None:
    """Record the signed-in person's answer; commits with its audit rows.

    Approving also remembers the consent (the app shows among the user's allowed apps). Raises
    :class:`DeviceRequestGone` when the request expired or was decided meanwhile: exactly one
    of two racing answers wins.
    """
    decided = db.session.execute(
        _DECIDE,
        {
            "row_id": row.id,
            "now": now,
            "status": APPROVED if approve else DENIED,
            "user_id": session.user_id,
            "auth_time": session.auth_time,
            "acr": session.acr,
            "amr": list(session.amr),
        },
    ).first()
    if decided is None:
        db.session.rollback()
        raise DeviceRequestGone("decided or expired")
    client = db.session.get(Client, row.client_pk)
    assert client is not None  # the foreign key cascades: a request outlives no client
    scopes = tuple(parse_scope(row.scope))
    if approve:
        remember_consent(session, client, scopes, now=now)
    record_event(
        EventTag.DEVICE_APPROVED if approve else EventTag.DEVICE_DENIED,
        user_subject=session.user_subject,
        client_id=client.client_id,
        detail={"scope": row.scope, "grant_id": row.grant_id},
    )
    db.session.commit()

"""The device authorization grant at the token endpoint (RFC 8628 §3.4, §3.5).

The device polls with its device code until the person has decided. Each answer but the last
is an error the RFC names: ``authorization_pending`` while nobody has decided, ``slow_down``
when the device polls sooner than its interval (which then grows by 5 s), ``access_denied``,
``expired_token``. An approved code is redeemed once, by a conditional UPDATE: of two devices
(or two instances) polling at the same moment exactly one gets tokens; later polls get
``invalid_grant``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from authlib.oauth2.rfc8628 import DeviceCodeGrant as AuthlibDeviceCodeGrant
from sqlalchemy import bindparam, select, update

from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.device_codes import APPROVED, DENIED, PENDING, DeviceCode
from authserver.models.users import User
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.device_codes import hash_device_code
from authserver.oauth.dpop.token_binding import token_request_jkt
from authserver.oauth.grants.authorization_code import should_issue_refresh_token
from authserver.oauth.grants.common import ALL_AUTH_METHODS, utcnow
from authserver.oauth.refresh_rotation import is_user_token_valid
from authserver.oauth.resources import RESOURCE_PARAMETER, token_target
from authserver.oauth.scopes import parse_scope
from authserver.oauth.tokens import Authentication, Issue, issue_token_response

SLOW_DOWN_STEP_SECONDS = 5  # RFC 8628 §3.5
NOT_VALID = "The device_code is not valid."
USED = "The device_code has been used already."


class SlowDown(SlowDownError):  # type: ignore[misc]  # Authlib ships no type hints
    """RFC 8628 §3.5 slow_down, saying the new interval too, so a device need not count."""

    def __init__(self, interval: int) -> None:
        super().__init__(f"Poll at most every {interval} seconds.")
        self.interval = interval

    def get_body(self) -> list[tuple[str, Any]]:  # Any: JSON values
        body: list[tuple[str, Any]] = super().get_body()
        return [*body, ("interval", self.interval)]


class ApprovedDevice:
    """The claimed request as Authlib's token response reads it (its scope)."""

    def __init__(self, row: DeviceCode) -> None:
        self.row = row

    def get_scope(self) -> str:
        return self.row.scope


class DeviceCodeGrant(AuthlibDeviceCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def validate_token_request(self) -> None:
        """Authlib's steps, with RFC 6749 §5.2's codes: an unknown code, or one issued to
        another client, is ``invalid_grant`` (Authlib says invalid_request and
        unauthorized_client), and the same answer for both, so a client learns nothing about
        codes that are not its own."""
        device_code = self.request.form.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code'.")
        client: AuthlibClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device authorization grant.")
        row, user = redeem_device_code(device_code, client.model, now=utcnow())
        self.request.client = client
        self.request.user = user
        self.request.credential = ApprovedDevice(row)

    def generate_token(self, user: User, scope: str, **_: Any) -> dict[str, Any]:
        row = self.request.credential.row
        client: AuthlibClient = self.request.client
        scopes = tuple(parse_scope(scope))
        target = token_target(
            client.model, self.request.form.getlist(RESOURCE_PARAMETER), row.resources, scopes
        )
        assert row.auth_time is not None and row.acr is not None  # set with the approval
        return issue_token_response(
            Issue(
                client=client.model,
                scopes=scopes,
                now=utcnow(),
                grant_type=self.GRANT_TYPE,
                user=user,
                # No browser session: the device does not share the approving browser's.
                authentication=Authentication(row.auth_time, row.acr, tuple(row.amr), None),
                grant_id=row.grant_id,
                include_refresh_token=should_issue_refresh_token(client, scopes),
                api=target.api,
                access_scopes=target.scopes,
                resources=tuple(row.resources),
                dpop_jkt=token_request_jkt(),
            )
        )


_FIND = select(DeviceCode).where(DeviceCode.device_code_hash == bindparam("code_hash"))
_CLAIM_APPROVED = (
    update(DeviceCode)
    .where(
        DeviceCode.id == bindparam("row_id"),
        DeviceCode.status == APPROVED,
        DeviceCode.used_at.is_(None),
        DeviceCode.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(DeviceCode.id)
    .execution_options(synchronize_session=False)
)


def redeem_device_code(
    device_code: str, client: Client, *, now: datetime
) -> tuple[DeviceCode, User]:
    """The approved request and its user, claimed for this response; else the RFC's error."""
    row = db.session.scalar(_FIND, {"code_hash": hash_device_code(device_code)})
    if row is None or row.client_pk != client.id:
        raise InvalidGrantError(NOT_VALID)
    if row.used_at is not None:
        raise InvalidGrantError(USED)
    if row.expires_at <= now:
        raise ExpiredTokenError("The device_code has expired.")
    if row.status == DENIED:
        raise AccessDeniedError("The user denied the request.")
    if row.status == PENDING:
        _record_poll(row, now=now)
    user = db.session.get(User, row.user_id)
    if user is None or row.decided_at is None or not is_user_token_valid(user, row.decided_at):
        # Disabled, deleted or signed out everywhere since approving: nothing to issue.
        raise InvalidGrantError(NOT_VALID)
    if db.session.execute(_CLAIM_APPROVED, {"row_id": row.id, "now": now}).first() is None:
        raise InvalidGrantError(USED)  # another poll won the race
    return row, user


_NOTE_POLL = (
    update(DeviceCode)
    .where(DeviceCode.id == bindparam("row_id"))
    .values(last_polled_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)
_SLOW_DOWN = (
    update(DeviceCode)
    .where(DeviceCode.id == bindparam("row_id"))
    .values(last_polled_at=bindparam("now"), interval=DeviceCode.interval + SLOW_DOWN_STEP_SECONDS)
    .returning(DeviceCode.interval)
    .execution_options(synchronize_session=False)
)


def _record_poll(row: DeviceCode, *, now: datetime) -> None:
    """Note the poll (committed: the error answer commits nothing else) and raise the answer.

    RFC 8628 §3.5: a device that polls sooner than its interval after its previous poll is
    told to slow down, and the interval grows by 5 seconds for this and every later poll.
    """
    too_soon = row.last_polled_at is not None and now < row.last_polled_at + timedelta(
        seconds=row.interval
    )
    if too_soon:
        interval = db.session.execute(_SLOW_DOWN, {"row_id": row.id, "now": now}).scalar_one()
        db.session.commit()
        raise SlowDown(interval)
    db.session.execute(_NOTE_POLL, {"row_id": row.id, "now": now})
    db.session.commit()
    raise AuthorizationPendingError("The user has not yet decided.")

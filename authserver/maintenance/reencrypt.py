"""``authserver secrets reencrypt``: every value sealed at rest, under the current key.

``security.crypto`` encrypts with the first key of ``AUTHSERVER_ENCRYPTION_KEYS`` and decrypts
with any. To retire an old key, put a new key first (old ones after it) on every instance, run
this, and then drop the old key: nothing will need it any more.

The sealed columns are listed in :data:`SEALED_COLUMNS` (signing keys' private halves and TOTP
secrets: every caller of ``crypto.encrypt``). Rows are read in batches by primary key and each
batch is one transaction. A row is rewritten only when it is not under the current key yet, and
only if it still holds what was read (a conditional UPDATE): a value the application rewrote
meanwhile is already under the current key. Running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.keys.manager import private_key_purpose
from authserver.models import SigningKey, TotpCredential, User
from authserver.security.crypto import KeyRing, current_keyring
from authserver.security.errors import DecryptionError
from authserver.security.mfa.second_factor import totp_secret_purpose

BATCH_SIZE = 500


@dataclass(frozen=True)
class SealedColumn:
    name: str  # "table.column", for reports
    model: Any  # Any: the mapped class holding the column
    column: Any  # Any: its instrumented attribute
    # Rows after a primary key: (id, sealed value, what the purpose is made from).
    rows: Callable[[int, int], Select[int, bytes, str]]
    purpose: Callable[[str], str]


def _signing_keys(after_id: int, limit: int) -> Select[int, bytes, str]:
    return (
        select(SigningKey.id, SigningKey.private_key_encrypted, SigningKey.kid)
        .where(SigningKey.id > after_id)
        .order_by(SigningKey.id)
        .limit(limit)
    )


def _totp_secrets(after_id: int, limit: int) -> Select[int, bytes, str]:
    return (
        select(TotpCredential.id, TotpCredential.secret_encrypted, User.subject)
        .join(User, User.id == TotpCredential.user_id)
        .where(TotpCredential.id > after_id)
        .order_by(TotpCredential.id)
        .limit(limit)
    )


SEALED_COLUMNS = (
    SealedColumn(
        "signing_keys.private_key_encrypted",
        SigningKey,
        SigningKey.private_key_encrypted,
        _signing_keys,
        private_key_purpose,
    ),
    SealedColumn(
        "totp_credentials.secret_encrypted",
        TotpCredential,
        TotpCredential.secret_encrypted,
        _totp_secrets,
        totp_secret_purpose,
    ),
)


@dataclass
class ColumnReport:
    reencrypted: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0  # rewritten by the application while we worked: current already

    def as_dict(self) -> dict[str, int]:
        return {
            "reencrypted": self.reencrypted,
            "already_current": self.already_current,
            "changed_meanwhile": self.changed_meanwhile,
        }


@dataclass
class ReencryptionReport:
    columns: dict[str, ColumnReport] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: report.as_dict() for name, report in self.columns.items()}


class ReencryptionFailed(Exception):
    """A sealed value could not be opened with any key of the ring; earlier batches stand."""


def reencrypt_all(*, batch_size: int = BATCH_SIZE) -> ReencryptionReport:
    """Re-encrypt every sealed value under the ring's first key; audited.

    Raises :class:`ReencryptionFailed` naming the row that no key opens (the batch it was in is
    rolled back; batches before it are committed, which is safe: they are under a key in the
    ring either way).
    """
    keyring = current_keyring()
    report = ReencryptionReport()
    for sealed in SEALED_COLUMNS:
        report.columns[sealed.name] = _reencrypt_column(sealed, keyring, batch_size)
    record_event(EventTag.ADMIN_SECRETS_REENCRYPTED, detail={"columns": report.as_dict()})
    db.session.commit()
    return report


def _reencrypt_column(sealed: SealedColumn, keyring: KeyRing, batch_size: int) -> ColumnReport:
    report = ColumnReport()
    after_id = 0
    while rows := db.session.execute(sealed.rows(after_id, batch_size)).all():
        for row_id, blob, purpose_source in rows:
            _reencrypt_row(sealed, keyring, report, row_id, blob, sealed.purpose(purpose_source))
        db.session.commit()
        after_id = rows[-1][0]
    return report


def _reencrypt_row(
    sealed: SealedColumn,
    keyring: KeyRing,
    report: ColumnReport,
    row_id: int,
    blob: bytes,
    purpose: str,
) -> None:
    if not keyring.needs_reencryption(blob):
        report.already_current += 1
        return
    try:
        fresh = keyring.reencrypt(blob, purpose=purpose)
    except DecryptionError as error:
        db.session.rollback()
        raise ReencryptionFailed(f"{sealed.name} row {row_id}: {error}") from None
    statement = (
        update(sealed.model)
        .where(sealed.model.id == row_id, sealed.column == blob)
        .values({sealed.column.key: fresh})
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", db.session.execute(statement)).rowcount == 1:
        report.reencrypted += 1
    else:
        report.changed_meanwhile += 1

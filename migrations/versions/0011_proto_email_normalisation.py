"""e-mail addresses stored normalised: NFKC and Unicode case folding (was: lower-case only)

Revision ID: 0011_proto
Revises: 0010
Create Date: 2026-12-06

Rows stored by earlier releases were only trimmed and lower-cased, so a full-width or otherwise
compatibility-encoded address (and one with a Turkish dotted capital I) could become a second
account beside the plain one. This revision rewrites ``users.email`` and the address in
``email_verification_tokens.email`` to the form accounts/email_addresses.py gives every new
address.

Two accounts whose addresses become the same are *not* merged and nothing is changed: the
revision stops with a message naming them (ids and addresses), so an operator decides which
account keeps the address (``authserver user delete`` or ``user export`` first, with the
previous release, or an SQL update of one address) and runs the upgrade again.

The rule is copied here, not imported: a migration must keep doing what it did when it was
written, whatever the application's code becomes later. tests/test_email_migration.py checks
that the copy and accounts/email_addresses.py agree today.

Downgrade leaves the addresses normalised: the earlier release compares lower-cased input
with the stored value, and a normalised address is already lower-case, so its accounts are
still found (the original spellings are not kept, on purpose: they were the problem).
"""

import re
import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0011_proto"
down_revision = "0010"
branch_labels = None
depends_on = None

_REDUNDANT_DOT = re.compile("(?<=[ij])\u0307")

users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
verification_tokens = sa.table(
    "email_verification_tokens", sa.column("id", sa.Integer), sa.column("email", sa.String)
)


class EmailCollision(RuntimeError):
    """Two or more accounts would share one address; nothing was changed."""


def normalise_email(email: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())
    return _REDUNDANT_DOT.sub("", folded).strip()


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    by_address: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, email in rows:
        by_address[normalise_email(email)].append((user_id, email))
    collisions = {address: owners for address, owners in by_address.items() if len(owners) > 1}
    if collisions:
        raise EmailCollision(_collision_report(collisions))
    for address, [(user_id, email)] in by_address.items():
        if address != email:
            bind.execute(users.update().where(users.c.id == user_id).values(email=address))
    tokens = bind.execute(sa.select(verification_tokens.c.id, verification_tokens.c.email)).all()
    for token_id, email in tokens:
        if normalise_email(email) != email:
            bind.execute(
                verification_tokens.update()
                .where(verification_tokens.c.id == token_id)
                .values(email=normalise_email(email))
            )


def _collision_report(collisions: dict[str, list[tuple[int, str]]]) -> str:
    lines = [
        "e-mail normalisation (NFKC, case folding) would give several accounts one address; "
        "nothing was changed. Decide which account keeps each address (delete the other, or "
        "change its address), then upgrade again:"
    ]
    for address, owners in sorted(collisions.items()):
        named = ", ".join(f"users.id {user_id} {email!r}" for user_id, email in owners)
        lines.append(f"  {address!r}: {named}")
    return "\n".join(lines)


def downgrade() -> None:
    """Nothing to undo in the schema; the addresses stay normalised (see the docstring)."""

"""users.partial_sign_in_notified_at: when the owner was last told of a failed second factor

Revision ID: 0011_acct
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_acct"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In the database, not in a process: "at most one notice an hour" must hold across every
    # instance (ASVS 5.0 V6.3.5; security/sign_in_notices.py).
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("partial_sign_in_notified_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("partial_sign_in_notified_at")

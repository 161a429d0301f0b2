"""users.partial_sign_in_notified_at; password_reset_tokens.user_id may be NULL (decoys)

Revision ID: 0012_acct
Revises: 0011_proto
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_acct"
down_revision = "0011_proto"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In the database, not in a process: "at most one notice an hour" must hold across every
    # instance (ASVS 5.0 V6.3.5; security/sign_in_notices.py).
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("partial_sign_in_notified_at", sa.DateTime(timezone=True), nullable=True)
        )
    # A reset asked for an address with no account writes a decoy row without a user, so both
    # answers take the same work (ASVS 5.0 V6.3.8; accounts/password_reset.py).
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM password_reset_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("partial_sign_in_notified_at")

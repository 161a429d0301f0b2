"""password_reset_tokens.user_id is NOT NULL again: decoy rows are gone

Revision ID: 0013_reset_owner
Revises: 0012_acct
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_reset_owner"
down_revision = "0012_acct"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A reset for an address with no account used to write a decoy row so both answers took the
    # same work. The page now answers before any of that work starts (accounts/password_reset.py),
    # so decoys protect nothing: they go, and every link has an owner again.
    op.execute("DELETE FROM password_reset_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("password_reset_tokens") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)

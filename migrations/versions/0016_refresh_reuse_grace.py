"""refresh reuse grace: refresh_tokens.reuse_forgiven_at

Revision ID: 0016_refresh_reuse_grace
Revises: 0015_dpop
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_refresh_reuse_grace"
down_revision = "0015_dpop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rotated tokens were never forgiven a reuse: NULL is exactly right for them.
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.add_column(sa.Column("reuse_forgiven_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.drop_column("reuse_forgiven_at")

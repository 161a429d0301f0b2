"""token exchange: clients.exchange_audiences (RFC 8693)

Revision ID: 0017_token_exchange
Revises: 0016_refresh_reuse_grace
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_token_exchange"
down_revision = "0016_refresh_reuse_grace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing clients may exchange tokens for no API until an operator says otherwise.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("exchange_audiences", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    # Clients registered with the grant type keep it in grant_types; without audiences the
    # code before this revision does not know the grant, and refuses it as unsupported.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("exchange_audiences")

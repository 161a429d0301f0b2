"""pushed requests: the pushed_authorization_requests table and clients.require_par (RFC 9126)

Revision ID: 0018_pushed_requests
Revises: 0017_token_exchange
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_pushed_requests"
down_revision = "0017_token_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pushed_authorization_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["clients.id"],
            name=op.f("fk_pushed_authorization_requests_client_pk_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_authorization_requests")),
        sa.UniqueConstraint(
            "request_hash", name=op.f("uq_pushed_authorization_requests_request_hash")
        ),
    )
    with op.batch_alter_table("pushed_authorization_requests") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pushed_authorization_requests_expires_at"), ["expires_at"]
        )
    # Existing clients keep today's behaviour: a pushed request is accepted, not demanded.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("require_par", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("require_par")
    with op.batch_alter_table("pushed_authorization_requests") as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushed_authorization_requests_expires_at"))
    op.drop_table("pushed_authorization_requests")

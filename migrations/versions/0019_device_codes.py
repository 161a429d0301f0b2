"""device codes: the device authorization grant (RFC 8628)

Revision ID: 0019_device_codes
Revises: 0018_pushed_requests
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_device_codes"
down_revision = "0018_pushed_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["clients.id"],
            name=op.f("fk_device_codes_client_pk_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_codes")),
        sa.UniqueConstraint("device_code_hash", name=op.f("uq_device_codes_device_code_hash")),
        sa.UniqueConstraint("user_code_hash", name=op.f("uq_device_codes_user_code_hash")),
    )
    with op.batch_alter_table("device_codes") as batch_op:
        batch_op.create_index(batch_op.f("ix_device_codes_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_device_codes_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("device_codes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_codes_user_id"))
        batch_op.drop_index(batch_op.f("ix_device_codes_expires_at"))
    op.drop_table("device_codes")

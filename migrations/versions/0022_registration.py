"""registration: users.created_via and the invitations table

Revision ID: 0022_registration
Revises: 0021_new_device_alerts
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_registration"
down_revision = "0021_new_device_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every account made before this revision was made by an operator (`user create`).
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("created_via", sa.String(length=16), nullable=False, server_default="cli")
        )

    # Where a person who signed up in the middle of an OAuth flow goes back to once verified.
    with op.batch_alter_table("email_verification_tokens") as batch_op:
        batch_op.add_column(sa.Column("next_target", sa.String(length=2048), nullable=True))

    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_email"), ["email"])
        batch_op.create_index(batch_op.f("ix_invitations_user_id"), ["user_id"])
        batch_op.create_index(batch_op.f("ix_invitations_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_invitations_user_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_email"))
    op.drop_table("invitations")

    with op.batch_alter_table("email_verification_tokens") as batch_op:
        batch_op.drop_column("next_target")

    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("created_via")

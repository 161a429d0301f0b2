"""user roles; indexes on expiry columns for `maintenance purge`

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# `maintenance purge` deletes by `expires_at < now` in batches; without these indexes every
# batch would scan the whole table (PostgreSQL with 10^6 rows).
EXPIRY_INDEXED_TABLES = (
    "browser_sessions",
    "email_verification_tokens",
    "login_devices",
    "password_reset_tokens",
    "unlock_tokens",
)


def upgrade() -> None:
    op.create_table(
        "user_roles",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_roles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
        sa.UniqueConstraint("user_id", "role", name=op.f("uq_user_roles_user_id")),
    )
    for table in EXPIRY_INDEXED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_expires_at"), ["expires_at"])
    # Deleting a refresh token sets its children's parent_id to NULL: the database looks them
    # up by parent_id, a full scan per deleted row without this index.
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_parent_id"), ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_parent_id"))
    for table in reversed(EXPIRY_INDEXED_TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_expires_at"))
    op.drop_table("user_roles")

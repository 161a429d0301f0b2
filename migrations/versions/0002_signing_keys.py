"""signing keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        # Enums stored by value in a VARCHAR (no native PostgreSQL enum type to create or alter).
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    with op.batch_alter_table("signing_keys") as batch_op:
        batch_op.create_index("ix_signing_keys_state_alg", ["state", "alg"])
        # At most one active and one next key per algorithm.
        for state in ("active", "next"):
            condition = sa.text(f"state = '{state}'")
            batch_op.create_index(
                f"uq_signing_keys_alg_{state}",
                ["alg"],
                unique=True,
                sqlite_where=condition,
                postgresql_where=condition,
            )


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch_op:
        batch_op.drop_index("uq_signing_keys_alg_next")
        batch_op.drop_index("uq_signing_keys_alg_active")
        batch_op.drop_index("ix_signing_keys_state_alg")
    op.drop_table("signing_keys")

"""dpop: clients.require_dpop, refresh_tokens.dpop_jkt, and the DPoP proof jti store

Revision ID: 0015_dpop
Revises: 0014_apis
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_dpop"
down_revision = "0014_apis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dpop_proof_jtis",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("jkt", sa.String(length=43), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dpop_proof_jtis")),
        sa.UniqueConstraint("jkt", "jti", name=op.f("uq_dpop_proof_jtis_jkt")),
    )
    with op.batch_alter_table("dpop_proof_jtis") as batch_op:
        batch_op.create_index(batch_op.f("ix_dpop_proof_jtis_expires_at"), ["expires_at"])

    # Existing clients keep today's behaviour: DPoP accepted, not demanded.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("require_dpop", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Existing refresh tokens were issued without a proof: they stay unbound.
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=43), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.drop_column("dpop_jkt")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("require_dpop")

    with op.batch_alter_table("dpop_proof_jtis") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dpop_proof_jtis_expires_at"))
    op.drop_table("dpop_proof_jtis")

"""APIs (resource servers), resource indicators on grants, who may introspect which API

Revision ID: 0014_apis
Revises: 0013_reset_owner
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_apis"
down_revision = "0013_reset_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("access_token_ttl", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apis")),
        sa.UniqueConstraint("identifier", name=op.f("uq_apis_identifier")),
    )
    # Existing rows get an empty list: no grant named a resource, no client introspects an API.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("introspect_apis", sa.JSON(), server_default="[]", nullable=False)
        )
    for table in ("authorization_codes", "refresh_tokens"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("resources", sa.JSON(), server_default="[]", nullable=False)
            )


def downgrade() -> None:
    for table in ("refresh_tokens", "authorization_codes"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("resources")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("introspect_apis")
    op.drop_table("apis")

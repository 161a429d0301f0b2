"""backchannel logout: clients' logout URI, who got an ID token in which session, the outbox

Revision ID: 0020_backchannel_logout
Revises: 0019_device_codes
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_backchannel_logout"
down_revision = "0019_device_codes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Existing clients have no back-channel logout URI: they get no logout tokens.
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.String(2000), nullable=True))
        batch_op.add_column(
            sa.Column(
                "backchannel_logout_session_required",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    op.create_table(
        "session_relying_parties",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("session_pk", BIG_ID, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("first_issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["browser_sessions.id"],
            name=op.f("fk_session_relying_parties_session_pk_browser_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["clients.id"],
            name=op.f("fk_session_relying_parties_client_pk_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_relying_parties")),
        sa.UniqueConstraint(
            "session_pk", "client_pk", name=op.f("uq_session_relying_parties_session_pk")
        ),
    )
    with op.batch_alter_table("session_relying_parties") as batch_op:
        batch_op.create_index(batch_op.f("ix_session_relying_parties_client_pk"), ["client_pk"])
    op.create_table(
        "logout_outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("user_subject", sa.String(36), nullable=False),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["clients.id"],
            name=op.f("fk_logout_outbox_client_pk_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logout_outbox")),
    )
    with op.batch_alter_table("logout_outbox") as batch_op:
        batch_op.create_index(batch_op.f("ix_logout_outbox_available_at"), ["available_at"])
        batch_op.create_index(batch_op.f("ix_logout_outbox_client_pk"), ["client_pk"])


def downgrade() -> None:
    with op.batch_alter_table("logout_outbox") as batch_op:
        batch_op.drop_index(batch_op.f("ix_logout_outbox_client_pk"))
        batch_op.drop_index(batch_op.f("ix_logout_outbox_available_at"))
    op.drop_table("logout_outbox")
    with op.batch_alter_table("session_relying_parties") as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_relying_parties_client_pk"))
    op.drop_table("session_relying_parties")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("backchannel_logout_session_required")
        batch_op.drop_column("backchannel_logout_uri")

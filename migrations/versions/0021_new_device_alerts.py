"""new-device alerts: users.first_sign_in_at and the "This wasn't me" links (not_me_tokens)

Revision ID: 0021_new_device_alerts
Revises: 0020_backchannel_logout
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_new_device_alerts"
down_revision = "0020_backchannel_logout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "not_me_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_not_me_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_not_me_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_not_me_tokens_token_hash")),
    )
    with op.batch_alter_table("not_me_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_not_me_tokens_user_id"), ["user_id"])
        batch_op.create_index(batch_op.f("ix_not_me_tokens_expires_at"), ["expires_at"])

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("first_sign_in_at", sa.DateTime(timezone=True)))

    # Accounts that have signed in before the upgrade must not have their next sign-in taken
    # for their first (that one would mail no notice). The evidence: a recognised browser
    # (login_devices rows are made only by a completed sign-in) or a successful sign-in in the
    # audit trail. An account with neither has, as far as anything kept can tell, never signed
    # in: NULL, and its next sign-in counts as the first.
    op.execute(
        """
        UPDATE users SET first_sign_in_at = (
            SELECT MIN(audit_events.occurred_at) FROM audit_events
             WHERE audit_events.user_subject = users.subject
               AND audit_events.event = 'user:login' AND audit_events.outcome = 'success'
        )
        """
    )
    # The older of the two when both speak (both columns hold the same type: on SQLite the
    # same text format, which sorts in time order).
    op.execute(
        """
        UPDATE users SET first_sign_in_at = (
            SELECT MIN(login_devices.created_at) FROM login_devices
             WHERE login_devices.user_id = users.id
        )
         WHERE EXISTS (
            SELECT 1 FROM login_devices
             WHERE login_devices.user_id = users.id
               AND (users.first_sign_in_at IS NULL
                    OR login_devices.created_at < users.first_sign_in_at)
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("first_sign_in_at")

    with op.batch_alter_table("not_me_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_not_me_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_not_me_tokens_user_id"))
    op.drop_table("not_me_tokens")

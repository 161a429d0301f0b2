"""passkey-only accounts: users.password_hash may be NULL; invitation passkey challenges

Revision ID: 0025_passkey_only_accounts
Revises: 0024_user_language
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_passkey_only_accounts"
down_revision = "0024_user_language"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# No argon2 hash: verify_password reads it as unreadable, so no password matches it.
NO_PASSWORD = "!no-password"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)
    # Back from a downgrade: the accounts it marked as having no password have none again.
    op.execute(
        sa.text("UPDATE users SET password_hash = NULL WHERE password_hash = :none").bindparams(
            none=NO_PASSWORD
        )
    )
    with op.batch_alter_table("passkey_challenges") as batch_op:
        batch_op.add_column(sa.Column("invitation_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_passkey_challenges_invitation_id_invitations"),
            "invitations",
            ["invitation_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("passkey_challenges") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_passkey_challenges_invitation_id_invitations"), type_="foreignkey"
        )
        batch_op.drop_column("invitation_id")
    # An account without a password keeps having none: a value no password verifies against.
    op.execute(
        sa.text("UPDATE users SET password_hash = :none WHERE password_hash IS NULL").bindparams(
            none=NO_PASSWORD
        )
    )
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)

"""mails in the recipient's language: users.language

Revision ID: 0024_user_language
Revises: 0023_passkeys
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_user_language"
down_revision = "0023_passkeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for every existing account: its mails follow the page that sends them until the
    # owner next signs in (authserver/mail_language.py).
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("language")

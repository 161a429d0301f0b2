"""audit events append-only: triggers refusing UPDATE and DELETE outside maintenance

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

The application only ever inserts audit rows. Two documented jobs may change them: the
pseudonymisation of a deleted account's rows and the retention purge/scrub
(``audit/privacy.py``). They announce themselves inside their own transaction:

- PostgreSQL: ``SET LOCAL authserver.audit_maintenance = 'on'`` (a transaction-local setting,
  gone at COMMIT or ROLLBACK); a statement-level trigger refuses anything else.
- SQLite has no session variables: the triggers let a change through only while the
  ``audit_maintenance`` table holds a row, which the maintenance code inserts and deletes again
  within its transaction (SQLite has a single writer, so nobody else ever sees the row).

Note for later migrations: on SQLite a batch operation that *recreates* ``audit_events`` (a
column change) drops these triggers with the old table; such a migration must create them again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

POSTGRES_FUNCTION = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('authserver.audit_maintenance', true), '') <> 'on' THEN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
"""
SQLITE_TRIGGER = """
CREATE TRIGGER audit_events_no_{operation}
    BEFORE {statement} ON audit_events
    WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: {statement} refused');
END
"""


def upgrade() -> None:
    op.create_table(
        "audit_maintenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_maintenance")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for statement in ("UPDATE", "DELETE"):
            op.execute(SQLITE_TRIGGER.format(operation=statement.lower(), statement=statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    op.drop_table("audit_maintenance")

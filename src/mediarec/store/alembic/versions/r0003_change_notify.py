"""PostgreSQL: every statement that writes a table a served list reads sends a notification.

Revision ID: 0003_notify
Revises: 0002_indexes
Create Date: 2026-12-06

A serving process remembers each user's serving stamps while the store is unchanged and answers
cache hits from memory (store/stamps.py). On one host its writers bump a shared counter; a writer on
another host (a replica, a script with its own connection) is heard through these notifications on
channel ``mediarec_changes`` (store/changes.py). Statement-level triggers: one notification per
statement, and PostgreSQL sends identical ones of a transaction once, so a bulk import pays once
per batch. The tables are those the serving stamps read (interactions, users, user_profile_edits,
store_stamps) and the catalogue's (items, item_features), as SQLite's ``data_version`` moves on any
commit. SQLite needs nothing: this revision does nothing there. Existing stores get the triggers
when a store first opens them (no row is touched).
"""

from __future__ import annotations

from alembic import op

revision = "0003_notify"
down_revision = "0002_indexes"
branch_labels = None
depends_on = None

TABLES = ("interactions", "users", "user_profile_edits", "store_stamps", "items", "item_features")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """CREATE OR REPLACE FUNCTION mediarec_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mediarec_changes', '');
            RETURN NULL;
        END $$"""
    )
    for table in TABLES:
        op.execute(
            f"""CREATE TRIGGER {table}_notify_change
                AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION mediarec_notify_change()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS mediarec_notify_change()")

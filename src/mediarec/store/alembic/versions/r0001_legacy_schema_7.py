"""The schema of legacy migration 7 (items, users, events, features, imports, profiles, tags, stamps).

Revision ID: 0001_schema7
Revises:
Create Date: 2026-12-06

A fresh database of either backend starts here; an SQLite home made before Alembic reaches the same
schema through the legacy migrations and is stamped at this revision without running it.
"""

from __future__ import annotations

from alembic import op

from mediarec.store.ddl import schema_extras
from mediarec.store.schema import metadata

revision = "0001_schema7"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    before, after = schema_extras(bind.dialect.name)
    for statement in before:
        bind.exec_driver_sql(statement)
    metadata.create_all(bind)
    for statement in after:
        bind.exec_driver_sql(statement)
    bind.exec_driver_sql("INSERT INTO store_stamps (name, value) VALUES ('deletions', 0)")


def downgrade() -> None:
    raise NotImplementedError("the first schema has nothing to go back to")

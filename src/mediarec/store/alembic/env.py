"""Alembic environment of the store: always run programmatically by :mod:`mediarec.store.upgrade`,
which passes the open connection (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from mediarec.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

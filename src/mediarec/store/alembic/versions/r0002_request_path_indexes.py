"""Indexes that the request path and the dashboard read through at big catalogues.

Revision ID: 0002_indexes
Revises: 0001_schema7
Create Date: 2026-12-06

Each serves a query that runs while serving (checked with EXPLAIN on both backends, figures in
docs/benchmarks.md, "Store indexes"):

* ``items_updated`` (items.updated): ``max(updated)`` of the catalogue stamp, which every replica
  reads up to four times a second, and the dashboard's count of files an ingest has registered.
* ``item_features_created`` (item_features.created): ``max(created)`` of the catalogue stamp, and
  the dashboard's progress of a running ingest (features stored since it started).
* ``interactions_item_ts`` (interactions.item_id, ts) replaces ``interactions_item``: the catalogue
  snapshot's first-seen pass (``min(ts)`` per item) reads the index alone instead of every event
  row, and it serves every lookup by item the old index did (the item id is its first column), so
  an import maintains no more indexes than before.

Both backends run this revision; an existing home gets the indexes when a store first opens it (its
rows are untouched). On PostgreSQL ``CREATE INDEX`` holds off writes to the table while it builds:
about a second per million events on a small machine.
"""

from __future__ import annotations

from alembic import op

revision = "0002_indexes"
down_revision = "0001_schema7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("items_updated", "items", ["updated"])
    op.create_index("item_features_created", "item_features", ["created"])
    op.create_index("interactions_item_ts", "interactions", ["item_id", "ts"])
    op.drop_index("interactions_item", table_name="interactions")


def downgrade() -> None:
    op.create_index("interactions_item", "interactions", ["item_id"])
    op.drop_index("interactions_item_ts", table_name="interactions")
    op.drop_index("item_features_created", table_name="item_features")
    op.drop_index("items_updated", table_name="items")

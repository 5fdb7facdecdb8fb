"""The store's tables as SQLAlchemy metadata: the schema the seven legacy migrations
(:mod:`mediarec.store.migrations`) end at, for both backends.

Alembic's first revision creates exactly this on a fresh database; an older SQLite home is brought
here by the legacy migrations and then stamped at that revision (:mod:`mediarec.store.upgrade`).
JSON columns stay TEXT on PostgreSQL too (not JSONB): the store writes and reads JSON text, and JSONB
would reorder the keys of what callers stored. Float columns are ``FLOAT`` (PostgreSQL: double
precision; its ``REAL`` is 4 bytes, too coarse for timestamps). Triggers and the PostgreSQL
functions live in :mod:`mediarec.store.ddl`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite's rowid alias must be declared exactly INTEGER; PostgreSQL gets 8-byte ids where tables grow big.
_BIG_ID = Integer().with_variant(BigInteger(), "postgresql")


def _json_check(column: str) -> list[CheckConstraint]:
    # The same rule in each dialect's words: json_valid() is SQLite's; PostgreSQL refuses text that
    # does not parse as JSON when it casts it (an error either way, never a stored bad row).
    return [
        CheckConstraint(f"json_valid({column})").ddl_if(dialect="sqlite"),
        CheckConstraint(f"({column}::jsonb) IS NOT NULL").ddl_if(dialect="postgresql"),
    ]


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


items = Table(
    "items",
    metadata,
    _id(),
    Column("external_id", Text, nullable=False, unique=True),
    Column("content_hash", Text, unique=True),
    Column("title", Text, nullable=False, server_default=text("''")),
    Column("kind", Text, nullable=False, server_default=text("'video'")),
    Column("duration", Float),
    Column("uri", Text),
    Column("creator", Text),
    Column("metadata", Text, nullable=False, server_default=text("'{}'")),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    CheckConstraint("kind IN ('video', 'audio')"),
    CheckConstraint("duration IS NULL OR duration >= 0"),
    *_json_check("metadata"),
)
Index("items_creator", items.c.creator)
Index("items_kind", items.c.kind)
Index("items_created", items.c.created)

users = Table(
    "users",
    metadata,
    _id(),
    Column("external_id", Text, nullable=False, unique=True),
    Column("metadata", Text, nullable=False, server_default=text("'{}'")),
    Column("created", Float, nullable=False),
    *_json_check("metadata"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", _BIG_ID, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("type", Text, nullable=False),
    Column("value", Float),
    Column("ts", Float, nullable=False),
    Column("comment", Text),
    CheckConstraint("type IN ('view', 'like', 'skip', 'share', 'comment', 'rating')"),
    # The identity of an event: re-importing the same file inserts nothing new.
    UniqueConstraint("user_id", "item_id", "type", "ts"),
)
# Alembic revision 0002 replaces this with (item_id, ts) and adds items(updated) and
# item_features(created): this metadata is the schema of revision 0001, which creates it.
Index("interactions_item", interactions.c.item_id)
Index("interactions_ts", interactions.c.ts)

item_features = Table(
    "item_features",
    metadata,
    Column("id", _BIG_ID, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("extractor", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("payload", Text, nullable=False, server_default=text("'{}'")),
    Column("vector", LargeBinary),  # float32 bytes: BLOB / BYTEA
    Column("dim", Integer),
    Column("created", Float, nullable=False),
    UniqueConstraint("item_id", "extractor", "model_version"),
    *_json_check("payload"),
)
Index("item_features_extractor", item_features.c.extractor, item_features.c.created)

import_runs = Table(
    "import_runs",
    metadata,
    _id(),
    Column("source", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("status", Text, nullable=False, server_default=text("'running'")),
    Column("counts", Text, nullable=False, server_default=text("'{}'")),
    Column("pid", Integer),
    Column("host", Text),
)

import_errors = Table(
    "import_errors",
    metadata,
    Column("id", _BIG_ID, primary_key=True),
    Column("run_id", Integer, ForeignKey("import_runs.id", ondelete="CASCADE"), nullable=False),
    Column("file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False, server_default=text("''")),
)
Index("import_errors_run", import_errors.c.run_id)

user_profiles = Table(
    "user_profiles",
    metadata,
    _id(),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("interests", Text, nullable=False, server_default=text("'[]'")),
    Column("model_id", Text, nullable=False),
    Column("prompt_version", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("created", Float, nullable=False),
    CheckConstraint("version >= 1"),
    UniqueConstraint("user_id", "version"),
    *_json_check("interests"),
)

user_profile_edits = Table(
    "user_profile_edits",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("text", Text),
    Column("added_tags", Text, nullable=False, server_default=text("'[]'")),
    Column("removed_tags", Text, nullable=False, server_default=text("'[]'")),
    Column("updated", Float, nullable=False),
    *_json_check("added_tags"),
    *_json_check("removed_tags"),
)

item_tags = Table(
    "item_tags",
    metadata,
    Column("tag", Text, nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("source", Text, nullable=False),
    PrimaryKeyConstraint("tag", "item_id", "source"),
    sqlite_with_rowid=False,
)
Index("item_tags_item", item_tags.c.item_id)

store_stamps = Table(
    "store_stamps",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Integer, nullable=False, server_default=text("0")),
    sqlite_with_rowid=False,
)

# Tables in an order that satisfies every foreign key (store copy inserts in it), with the columns
# that order their rows for a resumable copy.
COPY_ORDER: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (items, ("id",)),
    (users, ("id",)),
    (interactions, ("id",)),
    (item_features, ("id",)),
    (import_runs, ("id",)),
    (import_errors, ("id",)),
    (user_profiles, ("id",)),
    (user_profile_edits, ("user_id",)),
    (item_tags, ("tag", "item_id", "source")),
    (store_stamps, ("name",)),
)

"""Schema migrations, applied in order; ``PRAGMA user_version`` records how many have run.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: catalogue, users, append-only events, versioned item features, import bookkeeping.
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        external_id TEXT NOT NULL UNIQUE,
        content_hash TEXT UNIQUE,
        title TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT 'video' CHECK (kind IN ('video', 'audio')),
        duration REAL CHECK (duration IS NULL OR duration >= 0),
        uri TEXT,
        creator TEXT,
        metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX items_creator ON items (creator);
    CREATE INDEX items_kind ON items (kind);
    CREATE INDEX items_created ON items (created);

    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        external_id TEXT NOT NULL UNIQUE,
        metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
        created REAL NOT NULL
    );

    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        type TEXT NOT NULL CHECK (type IN ('view', 'like', 'skip', 'share', 'comment', 'rating')),
        value REAL,
        ts REAL NOT NULL,
        comment TEXT,
        -- The identity of an event: re-importing the same file inserts nothing new.
        UNIQUE (user_id, item_id, type, ts)
    );
    CREATE INDEX interactions_item ON interactions (item_id);
    CREATE INDEX interactions_ts ON interactions (ts);

    CREATE TABLE item_features (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        extractor TEXT NOT NULL,
        model_version TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
        vector BLOB,
        dim INTEGER,
        created REAL NOT NULL,
        UNIQUE (item_id, extractor, model_version)
    );
    CREATE INDEX item_features_extractor ON item_features (extractor, created);

    CREATE TABLE import_runs (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        format TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL,
        status TEXT NOT NULL DEFAULT 'running',
        counts TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE import_errors (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
        file TEXT NOT NULL,
        line INTEGER NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX import_errors_run ON import_errors (run_id);
    """,
)

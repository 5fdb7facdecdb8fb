"""The legacy schema migrations of SQLite homes, applied in order; ``PRAGMA user_version`` records how
many have run.

Frozen: the schema history continues in Alembic (``store/alembic/``), whose first revision is the
schema these seven end at. A home made before Alembic runs the ones it lacks here, then is stamped at
that revision (:mod:`mediarec.store.upgrade`). Never edit one of these.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from mediarec.pii import scrub_pii
from mediarec.store.relocate import relocate_paths

# A migration is SQL, or a function given the open transaction and the database file's path, for
# changes SQL cannot express (paths resolved against the file system).
Migration = str | Callable[[sqlite3.Connection, Path], None]


def scrub_stored_comments(tx: sqlite3.Connection, path: Path) -> None:
    """Comments (and refused import rows) stored before comments were scrubbed on the way in lose
    their e-mail addresses and phone numbers now, so that the rule holds for every stored row."""
    for table, column in (("interactions", "comment"), ("import_errors", "raw")):
        rows = tx.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} != ''")
        changed = [(clean, rid) for rid, text in rows if (clean := scrub_pii(text)) != text]
        tx.executemany(f"UPDATE {table} SET {column} = ? WHERE id = ?", changed)

MIGRATIONS: tuple[Migration, ...] = (
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
    # 2: taste profiles. Generated versions are kept (user_profiles); the user's own changes live
    # apart (user_profile_edits) so that a regeneration can never overwrite them. Both go with the
    # user (ON DELETE CASCADE). No statement may start with a comment: _split_sql skips those.
    """
    CREATE TABLE user_profiles (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        version INTEGER NOT NULL CHECK (version >= 1),
        text TEXT NOT NULL,
        interests TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(interests)),
        model_id TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        created REAL NOT NULL,
        UNIQUE (user_id, version)
    );

    CREATE TABLE user_profile_edits (
        user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        text TEXT,
        added_tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(added_tags)),
        removed_tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(removed_tags)),
        updated REAL NOT NULL
    );
    """,
    # 3: item_tags, one row per (lower-cased tag, item, source), so the dashboard's tag filter and
    # counts are index lookups instead of parsing every item's JSON. Triggers keep it in step on
    # every write path: item metadata `tags`/`genres` (source 'meta') and the tags of the `llm`
    # describe stage's payload (source 'llm', entries {"tag": ...} or plain strings; the latest
    # written row wins). Trigger bodies read new.* directly so that each write touches one item.
    """
    CREATE TABLE item_tags (
        tag TEXT NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        PRIMARY KEY (tag, item_id, source)
    ) WITHOUT ROWID;
    CREATE INDEX item_tags_item ON item_tags (item_id);

    INSERT OR IGNORE INTO item_tags (tag, item_id, source)
        SELECT tag, id, 'meta' FROM (
            SELECT lower(trim(j.value)) AS tag, i.id AS id
            FROM items i, json_each(i.metadata, '$.tags') j WHERE j.type = 'text'
            UNION ALL
            SELECT lower(trim(j.value)), i.id
            FROM items i, json_each(i.metadata, '$.genres') j WHERE j.type = 'text'
        ) WHERE tag != '';
    INSERT OR IGNORE INTO item_tags (tag, item_id, source)
        SELECT tag, item_id, 'llm' FROM (
            SELECT lower(trim(CASE j.type WHEN 'object' THEN json_extract(j.value, '$.tag')
                                          WHEN 'text' THEN j.value END)) AS tag, f.item_id AS item_id
            FROM item_features f, json_each(f.payload, '$.tags') j WHERE f.extractor = 'llm'
        ) WHERE tag IS NOT NULL AND tag != '';

    CREATE TRIGGER item_tags_on_insert AFTER INSERT ON items BEGIN
        INSERT OR IGNORE INTO item_tags (tag, item_id, source)
            SELECT tag, new.id, 'meta' FROM (
                SELECT lower(trim(value)) AS tag FROM json_each(new.metadata, '$.tags') WHERE type = 'text'
                UNION ALL
                SELECT lower(trim(value)) FROM json_each(new.metadata, '$.genres') WHERE type = 'text'
            ) WHERE tag != '';
    END;

    CREATE TRIGGER item_tags_on_update AFTER UPDATE OF metadata ON items
    WHEN json(old.metadata) IS NOT json(new.metadata) BEGIN
        DELETE FROM item_tags WHERE item_id = new.id AND source = 'meta';
        INSERT OR IGNORE INTO item_tags (tag, item_id, source)
            SELECT tag, new.id, 'meta' FROM (
                SELECT lower(trim(value)) AS tag FROM json_each(new.metadata, '$.tags') WHERE type = 'text'
                UNION ALL
                SELECT lower(trim(value)) FROM json_each(new.metadata, '$.genres') WHERE type = 'text'
            ) WHERE tag != '';
    END;

    CREATE TRIGGER item_tags_on_llm_insert AFTER INSERT ON item_features WHEN new.extractor = 'llm' BEGIN
        DELETE FROM item_tags WHERE item_id = new.item_id AND source = 'llm';
        INSERT OR IGNORE INTO item_tags (tag, item_id, source)
            SELECT tag, new.item_id, 'llm' FROM (
                SELECT lower(trim(CASE type WHEN 'object' THEN json_extract(value, '$.tag')
                                            WHEN 'text' THEN value END)) AS tag
                FROM json_each(new.payload, '$.tags')
            ) WHERE tag IS NOT NULL AND tag != '';
    END;

    CREATE TRIGGER item_tags_on_llm_update AFTER UPDATE OF payload ON item_features
    WHEN new.extractor = 'llm' AND old.payload IS NOT new.payload BEGIN
        DELETE FROM item_tags WHERE item_id = new.item_id AND source = 'llm';
        INSERT OR IGNORE INTO item_tags (tag, item_id, source)
            SELECT tag, new.item_id, 'llm' FROM (
                SELECT lower(trim(CASE type WHEN 'object' THEN json_extract(value, '$.tag')
                                            WHEN 'text' THEN value END)) AS tag
                FROM json_each(new.payload, '$.tags')
            ) WHERE tag IS NOT NULL AND tag != '';
    END;

    CREATE TRIGGER item_tags_on_llm_delete AFTER DELETE ON item_features WHEN old.extractor = 'llm' BEGIN
        DELETE FROM item_tags WHERE item_id = old.item_id AND source = 'llm';
    END;
    """,
    # 4: store_stamps, small counters that other processes poll cheaply. 'deletions' moves with every
    # deleted user (a trigger, so every delete path bumps it), which tells a running server that a
    # `mediarec delete-user` elsewhere removed someone its in-memory model and caches still count.
    """
    CREATE TABLE store_stamps (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    INSERT INTO store_stamps (name, value) VALUES ('deletions', 0);

    CREATE TRIGGER store_stamps_on_user_delete AFTER DELETE ON users BEGIN
        UPDATE store_stamps SET value = value + 1 WHERE name = 'deletions';
    END;
    """,
    # 5: who runs an import run (process id and host name), so that a run whose process is gone (killed,
    # crashed, the machine restarted) can be marked 'interrupted' instead of staying 'running' forever.
    """
    ALTER TABLE import_runs ADD COLUMN pid INTEGER;
    ALTER TABLE import_runs ADD COLUMN host TEXT;
    """,
    # 6: media and keyframe paths were stored as the ingesting command gave them, often relative to its
    # working directory; from now on a path inside the home is stored relative to the home and any other
    # path absolute (mediarec.media.paths). See relocate.py for how old rows are read.
    relocate_paths,
    # 7: comments are scrubbed before they are stored (Store.add_events); rows stored earlier are
    # scrubbed once here.
    scrub_stored_comments,
)


def run_legacy(con: sqlite3.Connection, path: Path) -> tuple[int, int]:
    """Bring an SQLite home from its ``user_version`` to the last legacy migration, each in a
    transaction of its own; returns (version before, version after). ``con`` must be in autocommit
    mode (``isolation_level=None``)."""
    version = int(con.execute("PRAGMA user_version").fetchone()[0])
    for number in range(version, len(MIGRATIONS)):
        step = MIGRATIONS[number]
        con.execute("BEGIN IMMEDIATE")
        try:
            if callable(step):  # a migration SQL cannot express
                step(con, path)
            else:
                for statement in split_sql(step):
                    con.execute(statement)
            con.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    return version, max(version, len(MIGRATIONS))


def split_sql(script: str) -> list[str]:
    """Statements of a migration script (no semicolons inside literals). Pieces are joined until
    SQLite calls them complete, so a trigger's ``BEGIN ... END`` body stays one statement."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip().removesuffix(";").strip()
            if statement and not statement.startswith("--"):
                out.append(statement)
            pending = ""
    return out

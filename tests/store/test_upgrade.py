"""Homes made before Alembic upgrade in place: legacy migrations to 7, then an Alembic stamp; every row
survives. A fresh database gets the same schema from Alembic on either backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, inspect

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store, StoreError
from mediarec.store.backend import normalise_url
from mediarec.store.migrations import MIGRATIONS, split_sql
from mediarec.store.upgrade import HEAD_REVISION


def _legacy_home(path: Path, version: int) -> None:
    """A database as the pre-Alembic code left it at ``version``, with a row in every table."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    for step in MIGRATIONS[:version]:
        if callable(step):
            step(con, path)
        else:
            for statement in split_sql(step):
                con.execute(statement)
    con.execute(f"PRAGMA user_version = {version}")
    con.execute(
        "INSERT INTO items (external_id, title, kind, duration, uri, creator, metadata, created, updated) "
        "VALUES ('i1', 'First', 'audio', 12.5, 'https://x/1', 'c1', '{\"tags\": [\"Jazz\"]}', 1.0, 2.0), "
        "('i2', 'Second', 'video', NULL, NULL, NULL, '{}', 3.0, 4.0)"
    )
    con.execute(
        "INSERT INTO users (external_id, metadata, created) VALUES ('u1', '{}', 5.0), ('u2', '{}', 6.0)"
    )
    con.execute(
        "INSERT INTO interactions (user_id, item_id, type, value, ts, comment) VALUES "
        "(1, 1, 'view', 0.5, 10.0, NULL), (1, 2, 'like', NULL, 11.0, 'nice'), "
        "(2, 1, 'rating', 4.0, 12.0, NULL)"
    )
    vector = np.arange(4, dtype=np.float32).tobytes()
    con.execute(
        "INSERT INTO item_features (item_id, extractor, model_version, payload, vector, dim, created) "
        "VALUES (1, 'llm', 'v1', '{\"tags\": [{\"tag\": \"Piano\"}]}', ?, 4, 7.0)",
        (vector,),
    )
    con.execute(
        "INSERT INTO import_runs (source, format, started, finished, status, counts) "
        "VALUES ('f.csv', 'csv', 1.0, 2.0, 'done', '{\"events\": 3}')"
    )
    con.execute(
        "INSERT INTO import_errors (run_id, file, line, reason, raw) VALUES (1, 'f.csv', 3, 'bad', 'x,y')"
    )
    if version >= 2:
        con.execute(
            "INSERT INTO user_profiles (user_id, version, text, interests, model_id, prompt_version, "
            "input_hash, created) VALUES (1, 1, 'You like jazz.', '[]', 'm', 'p1', 'h', 8.0)"
        )
        con.execute(
            "INSERT INTO user_profile_edits (user_id, text, added_tags, removed_tags, updated) "
            "VALUES (1, 'mine', '[\"a\"]', '[]', 9.0)"
        )
    con.close()


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(path)
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {}
    for name in names:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
        out[name] = sorted(con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall(), key=repr)
    con.close()
    return out


@pytest.mark.parametrize("version", [1, 3, len(MIGRATIONS)])
def test_a_legacy_home_upgrades_in_place_and_keeps_every_row(tmp_path: Path, version: int) -> None:
    path = tmp_path / "mediarec.db"
    _legacy_home(path, version)
    before = _tables(path)
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    # Stamped at LEGACY_REVISION, then the later revisions ran.
    assert store.conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD_REVISION
    store.close()
    after = _tables(path)
    for table, rows in before.items():
        kept = [row[: len(rows[0])] for row in after[table]] if rows else after[table]
        # Migration 5 appends columns (pid, host): the old columns come first, unchanged.
        assert sorted(kept, key=repr) == rows, table
        assert rows or table in ("item_tags", "store_stamps") or version < 2
    assert len(after["interactions"]) == 3 and len(after["item_features"]) == 1
    # The upgraded home works: triggers of both eras keep the tag index, new writes land.
    again = Store(path)
    assert again.count_items(tag="jazz") == 1
    again.upsert_items([ItemRecord("i3", "Third", metadata={"genres": ["Blues"]})])
    assert again.count_items(tag="blues") == 1
    assert again.add_events([EventRecord("u1", "i3", "view", 1.0, 20.0)])[0] == 1
    assert again.feature("i1", "llm", "v1") is not None
    stamp = again.deletion_stamp()
    assert again.delete_user("u2") == 1 and again.deletion_stamp() == stamp + 1
    again.close()


def test_a_fresh_sqlite_store_has_the_legacy_schema(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.db"
    _legacy_home(legacy, len(MIGRATIONS))
    Store(legacy).close()  # upgraded in place: the revisions after LEGACY_REVISION add indexes
    Store(tmp_path / "fresh.db").close()

    def shape(path: Path) -> dict[str, object]:
        con = sqlite3.connect(path)
        objects = {
            (t, n)
            for t, n in con.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        }
        columns = {
            n: [(r[1], r[2].upper(), r[3], r[5]) for r in con.execute(f"PRAGMA table_info({n})")]
            for t, n in objects
            if t == "table"
        }
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.close()
        return {"objects": objects - {("table", "alembic_version")}, "version": version, "columns": columns}

    fresh, old = shape(tmp_path / "fresh.db"), shape(legacy)
    assert fresh["objects"] == old["objects"] and fresh["version"] == old["version"]
    # Same columns in the same order, nullability and keys; types by affinity (FLOAT/REAL).
    norm = {"FLOAT": "REAL"}
    for table, cols in old["columns"].items():  # type: ignore[attr-defined]
        got = [(n, norm.get(t, t), nn, pk) for n, t, nn, pk in fresh["columns"][table]]  # type: ignore[index]
        want = [(n, norm.get(t, t), nn or pk > 0, pk) for n, t, nn, pk in cols]
        got = [(n, t, nn or pk > 0, pk) for n, t, nn, pk in got]
        assert got == want, table


def test_both_backends_get_the_same_tables_and_columns(store_url: str, tmp_path: Path) -> None:
    Store(store_url).close()
    Store(tmp_path / "reference.db").close()

    def columns(url: str) -> dict[str, list[str]]:
        engine = create_engine(normalise_url(url))
        try:
            found = inspect(engine)
            return {t: [c["name"] for c in found.get_columns(t)] for t in found.get_table_names()}
        finally:
            engine.dispose()

    assert columns(store_url) == columns(f"sqlite:///{tmp_path / 'reference.db'}")


def test_a_revision_newer_than_this_mediarec_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(normalise_url(store_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this mediarec"):
        Store(store_url)
    assert HEAD_REVISION != "9999_future"

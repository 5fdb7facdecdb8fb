"""Alembic revision 0002: the indexes the request path and the dashboard read through. A store made at
revision 0001 (the previous mediarec) gets them in place when it is opened, on both backends, and
keeps every row; the queries they were added for are planned through them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.backend import make_engine, normalise_url
from mediarec.store.schema import COPY_ORDER
from mediarec.store.upgrade import HEAD_REVISION, LEGACY_REVISION, _alembic

NEW_INDEXES = {
    "items": {"items_updated": ["updated"]},
    "item_features": {"item_features_created": ["created"]},
    "interactions": {"interactions_item_ts": ["item_id", "ts"]},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (the store fixtures' PostgreSQL databases come migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"old_{abs(hash(str(tmp_path))) % 10**9}"
    cluster.admin(f"CREATE DATABASE {name}")
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


def _rows(conn: Connection) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for table, _ in COPY_ORDER:
        cols = ", ".join(c.name for c in table.columns)
        rows = conn.exec_driver_sql(f"SELECT {cols} FROM {table.name}").fetchall()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _indexes(conn: Connection, table: str) -> dict[str, list[str]]:
    return {str(i["name"]): [str(c) for c in i["column_names"]] for i in inspect(conn).get_indexes(table)}


def test_a_store_at_revision_0001_gets_the_indexes_in_place_and_keeps_every_row(empty_url: str) -> None:
    engine = make_engine(normalise_url(empty_url))
    with engine.connect() as conn:
        with conn.begin():
            _alembic(conn, "upgrade", LEGACY_REVISION)  # what the previous mediarec made
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA user_version = 7")
        conn.commit()
        assert "interactions_item" in _indexes(conn, "interactions")
        assert "items_updated" not in _indexes(conn, "items")
    # Rows written by the previous mediarec, through the statements it ran (no store API of today).
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO items (external_id, title, kind, metadata, created, updated) VALUES "
            "('i1', 'One', 'video', '{\"tags\": [\"Jazz\"]}', 1.0, 5.0), "
            "('i2', 'Two', 'audio', '{}', 2.0, 3.0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO users (external_id, metadata, created) VALUES ('u1', '{}', 1.0), ('u2', '{}', 1.0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO interactions (user_id, item_id, type, value, ts) VALUES "
            "(1, 1, 'view', 0.5, 10.0), (2, 1, 'like', NULL, 7.0), (1, 2, 'view', 1.0, 12.0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO item_features (item_id, extractor, model_version, payload, created) "
            "VALUES (2, 'llm', 'v1', '{}', 9.0)"
        )
    with engine.connect() as conn:
        before = _rows(conn)
    engine.dispose()

    store = Store(empty_url)  # opening upgrades
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
        assert _rows(conn) == before
        for table, wanted in NEW_INDEXES.items():
            found = _indexes(conn, table)
            for name, cols in wanted.items():
                assert found.get(name) == cols, (table, found)
        assert "interactions_item" not in _indexes(conn, "interactions")  # replaced by (item_id, ts)
    # The upgraded store works on: first-seen times, the catalogue stamp, new writes and the tag index.
    first = dict(store.conn.execute("SELECT item_id, min(ts) FROM interactions GROUP BY item_id").fetchall())
    assert {k: float(v) for k, v in first.items()} == {1: 7.0, 2: 12.0}
    stamp = store.catalogue_stamp()
    assert [float(x) for x in stamp] == [2, 2, 5.0, 1, 9.0]
    store.upsert_items([ItemRecord("i3", "Three", metadata={"tags": ["Blues"]})])
    assert store.catalogue_stamp() != stamp and store.count_items(tag="jazz") == 1
    assert store.add_events([EventRecord("u2", "i3", "view", 1.0, 20.0)])[0] == 1
    store.close()
    Store(empty_url).close()  # at the head already: opens without running anything


def _plan(store: Store, sql: str, params: tuple[object, ...] = ()) -> str:
    if store.dialect.sqlite:
        rows = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "\n".join(str(r[-1]) for r in rows)
    # Tiny test tables are cheapest to scan; with scans priced out the planner shows whether an
    # index can serve the query at all (at scale it picks it on cost: docs/benchmarks.md).
    with store.transaction() as tx:
        tx.execute("SET LOCAL enable_seqscan = off")
        rows = tx.execute(f"EXPLAIN {sql}", params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def test_the_queries_are_planned_through_the_new_indexes(store_url: str) -> None:
    store = Store(store_url)
    store.upsert_items([ItemRecord(f"i{n}", f"Item {n}") for n in range(30)])
    store.add_events([EventRecord(f"u{n % 4}", f"i{n}", "view", 0.5, float(n)) for n in range(30)])
    store.conn.execute("ANALYZE")
    # The catalogue snapshot's first-seen pass reads the (item_id, ts) index alone.
    first_seen = _plan(store, "SELECT item_id, min(ts) FROM interactions GROUP BY item_id")
    assert "interactions_item_ts" in first_seen, first_seen
    if store.dialect.sqlite:
        assert "COVERING INDEX interactions_item_ts" in first_seen, first_seen
    # The catalogue stamp's newest-change lookups (each replica, up to four times a second).
    assert "items_updated" in _plan(store, "SELECT max(updated) FROM items")
    assert "item_features_created" in _plan(store, "SELECT max(created) FROM item_features")
    # The dashboard's progress of a running ingest.
    progress = _plan(
        store,
        "SELECT count(DISTINCT item_id) FROM item_features WHERE created >= ? AND extractor != 'probe'",
        (1.0,),
    )
    assert "item_features_created" in progress, progress
    store.close()

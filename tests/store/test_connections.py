"""A thread's store connection lives as long as the thread: when it ends, the connection is given back
(PostgreSQL: to the engine's pool, for the next thread; SQLite: closed). A server's request threads come
and go, and each used to keep its connection open until the store closed."""

from __future__ import annotations

import gc
import threading

import pytest

from mediarec.store import Store


def _in_threads(store: Store, n: int) -> list[object]:
    """Run one query in each of ``n`` short threads, one after another; their DBAPI connections."""
    seen: list[object] = []

    def one() -> None:
        assert store.conn.execute("SELECT 1").fetchone()[0] == 1
        seen.append(store.conn.sa.connection.dbapi_connection)

    for _ in range(n):
        t = threading.Thread(target=one)
        t.start()
        t.join()
    gc.collect()
    return seen


def _backends(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_connections_of_ended_threads_are_given_back(store_url: str) -> None:
    store = Store(store_url)
    seen = _in_threads(store, 30)
    assert len(seen) == 30
    assert store._all == [], "a connection of a thread that ended is still held"
    if store.dialect.postgresql:
        # Each thread took the connection the one before gave back, and no more were opened.
        assert len({id(c) for c in seen}) == 1
        assert _backends(store_url) == 1
    store.close()
    if store.dialect.postgresql:
        assert _backends(store_url) == 0


def test_a_living_thread_keeps_its_connection_and_its_transaction(store_url: str) -> None:
    store = Store(store_url)
    mine = store.conn
    _in_threads(store, 5)  # other threads ending must not touch this thread's connection
    assert store.conn is mine and store._all == [mine]
    with store.transaction() as tx:
        tx.execute("INSERT INTO store_stamps (name, value) VALUES ('conn-test', 1)")
        _in_threads(store, 3)
        tx.execute("UPDATE store_stamps SET value = 2 WHERE name = 'conn-test'")
    row = store.conn.execute("SELECT value FROM store_stamps WHERE name = 'conn-test'").fetchone()
    assert row[0] == 2
    store.close()


def test_bulk_reads_in_slices_return_every_row_in_order(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediarec.records import EventRecord, ItemRecord
    from mediarec.store import backend

    store = Store(store_url)
    store.upsert_items([ItemRecord(f"i{n}", f"Item {n}") for n in range(5)])
    store.add_events([EventRecord(f"u{n}", f"i{n % 5}", "view", 0.5, float(n)) for n in range(23)])
    monkeypatch.setattr(backend, "FETCH_SLICE", 4)  # 23 rows: five full slices and a partial one
    rows = store.conn.fetch_tuples("SELECT ts FROM interactions WHERE ts >= ? ORDER BY ts", (0.0,))
    assert [float(r[0]) for r in rows] == [float(n) for n in range(23)]
    assert store.conn.fetch_tuples("SELECT ts FROM interactions WHERE ts > ?", (99.0,)) == []
    store.close()

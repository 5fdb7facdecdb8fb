"""Two processes writing overlapping batches into one PostgreSQL store at once: the identity keys
(item and user external ids, the event identity, content hashes) hold across processes; nothing is
lost and nothing is stored twice."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store

ROUNDS = 6
PER_ROUND = 150


def _batches(worker: int) -> list[tuple[list[ItemRecord], list[EventRecord], list[str]]]:
    out = []
    for r in range(ROUNDS):
        # Two thirds of each round's items, users and events are the other worker's too.
        ids = range(r * PER_ROUND + worker * PER_ROUND // 3, (r + 1) * PER_ROUND + worker * PER_ROUND // 3)
        items = [ItemRecord(f"i{n}", f"Item {n}", metadata={"tags": [f"t{n % 7}"]}) for n in ids]
        events = [
            EventRecord(f"u{n % 40}", f"i{n}", "view" if n % 2 else "like", 0.5 if n % 2 else None, float(n))
            for n in ids
        ] + [EventRecord(f"u{n % 40}", f"new{n}", "view", 1.0, float(n)) for n in ids]
        hashes = [f"hash{r}-{k}" for k in range(25)]  # the same files, offered by both at once
        out.append((items, events, hashes))
    return out


def _writer(url: str, worker: int, start: Any, results: Any) -> None:
    store = Store(url)
    new_items = inserted = 0
    created: list[str] = []
    for items, events, hashes in _batches(worker):
        start.wait(60)  # each phase of each round starts together in both processes
        new_items += store.upsert_items(items)
        start.wait(60)
        inserted += store.add_events(events, create_missing_items=True)[0]
        start.wait(60)
        for digest in hashes:
            _, was_new = store.register_media(digest, ItemRecord(f"media-{digest}-{worker}", digest))
            if was_new:
                created.append(digest)
    store.close()
    results.put((worker, new_items, inserted, created))


def test_two_processes_neither_lose_nor_duplicate(pg_url: str) -> None:
    Store(pg_url).close()
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(pg_url, w, start, results)) for w in (0, 1)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0

    expected_items: set[str] = set()
    expected_events: set[tuple[str, str, str, float]] = set()
    expected_hashes: set[str] = set()
    for worker in (0, 1):
        for items, events, hashes in _batches(worker):
            expected_items |= {i.external_id for i in items}
            expected_items |= {e.item for e in events}
            expected_events |= {(e.user, e.item, e.type, e.ts) for e in events}
            expected_hashes |= set(hashes)

    store = Store(pg_url)
    rows = store.conn.execute(
        "SELECT u.external_id, i.external_id, e.type, e.ts FROM interactions e "
        "JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id"
    ).fetchall()
    stored_events = [(u, i, t, float(ts)) for u, i, t, ts in rows]
    assert len(stored_events) == len(set(stored_events)) == len(expected_events)
    assert set(stored_events) == expected_events
    # Each event counted as inserted by exactly one of the two writers.
    assert sum(g[2] for g in got) == len(expected_events)
    media = {
        h for (h,) in store.conn.execute("SELECT content_hash FROM items WHERE content_hash IS NOT NULL")
    }
    assert media == expected_hashes
    created = [h for g in got for h in g[3]]
    assert sorted(created) == sorted(expected_hashes), "each file registered once, by one writer"
    assert store.counts()["items"] == len(expected_items) + len(expected_hashes)
    assert store.counts()["users"] == 40
    tags = store.conn.execute("SELECT count(*) FROM item_tags WHERE source = 'meta'").fetchone()[0]
    assert tags == sum(1 for i in expected_items if i.startswith("i"))
    store.close()


@pytest.mark.parametrize("n", [3])
def test_reported_new_items_add_up(pg_url: str, n: int) -> None:
    store = Store(pg_url)
    assert store.upsert_items([ItemRecord(f"x{k}", "x") for k in range(n)] * 2) == n
    assert store.upsert_items([ItemRecord(f"x{k}", "y") for k in range(n + 1)]) == 1
    store.close()

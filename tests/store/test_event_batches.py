"""An import's event batches (``Store.add_event_columns``): on PostgreSQL a batch of new events goes
by COPY straight into ``interactions``, and one that meets a stored event falls back to the
temporary table; either way, and on SQLite, the same rows, duplicates and rejections."""

from __future__ import annotations

from typing import Any

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store import events as store_events

N = 600  # over DIRECT_COPY_MIN_ROWS: a batch an import would send


def _batch(start: int, n: int = N) -> list[EventRecord]:
    return [
        EventRecord(f"u{k // 20}", f"i{k % 7}", "view" if k % 3 else "like", 0.5 if k % 3 else None, 1e9 + k)
        for k in range(start, start + n)
    ]


def _stored(store: Store) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT u.external_id, i.external_id, e.type, e.value, e.ts, e.comment FROM interactions e "
            "JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id ORDER BY 1, 2, 3, 5"
        )
    ]


def _expected(records: list[EventRecord]) -> list[tuple[Any, ...]]:
    return sorted(
        {(r.user, r.item, r.type, r.value, r.ts, r.comment) for r in records},
        key=lambda t: (t[0], t[1], t[2], t[4]),
    )


@pytest.fixture
def direct_copies(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each direct COPY attempt returned (a spy on the real method, which still runs)."""
    seen: list[bool] = []
    real = store_events.EventTables._copy_direct

    def spy(self: Any, tx: Any, rows: Any) -> bool:
        seen.append(real(self, tx, rows))
        return seen[-1]

    monkeypatch.setattr(store_events.EventTables, "_copy_direct", spy)
    return seen


def _columns(records: list[EventRecord]) -> tuple[list[Any], ...]:
    return (
        [r.user for r in records],
        [r.item for r in records],
        [r.type for r in records],
        [r.value for r in records],
        [r.ts for r in records],
        [r.comment for r in records],
    )


def test_batches_store_the_same_rows_duplicates_and_rejections_on_both_backends(
    store_url: str, direct_copies: list[bool]
) -> None:
    postgresql = store_url.startswith("postgresql")
    with Store(store_url) as store:
        store.upsert_items([ItemRecord(f"i{k}", f"Item {k}") for k in range(7)])
        first = _batch(0)
        assert store.add_event_columns(*_columns(first)) == (N, [])
        # A fresh batch went straight in on PostgreSQL; SQLite never tries.
        assert direct_copies == ([True] if postgresql else [])

        # Half stored already, a duplicate inside the batch, an event on an unknown item.
        second = [*_batch(N // 2), _batch(N + 5, 1)[0], EventRecord("u1", "nope", "view", 0.5, 7.0)]
        inserted, rejected = store.add_event_columns(*_columns(second))
        assert inserted == N // 2, "only the new half: stored events and the repeat are skipped"
        assert rejected == [(len(second) - 1, "unknown item 'nope'")]
        if postgresql:
            assert direct_copies == [True, False], "the COPY met stored events and fell back"

        # Re-running the same batches adds nothing.
        assert store.add_event_columns(*_columns(first))[0] == 0
        assert store.add_event_columns(*_columns(second))[0] == 0
        assert _stored(store) == _expected(first + second[:-1])


def test_after_a_fallback_the_next_batches_skip_the_direct_copy_then_try_again(
    pg_url: str, direct_copies: list[bool]
) -> None:
    with Store(pg_url) as store:
        store.upsert_items([ItemRecord(f"i{k}", f"Item {k}") for k in range(7)])
        store.add_event_columns(*_columns(_batch(0)))
        store.add_event_columns(*_columns(_batch(0)))  # all stored: fell back, skips the next one
        assert direct_copies == [True, False]
        assert store.add_event_columns(*_columns(_batch(N)))[0] == N  # through the temporary table
        assert direct_copies == [True, False]
        assert store.add_event_columns(*_columns(_batch(2 * N)))[0] == N
        assert direct_copies == [True, False, True]
        assert len(_stored(store)) == 3 * N


def test_a_few_events_keep_the_temporary_table(pg_url: str, direct_copies: list[bool]) -> None:
    with Store(pg_url) as store:
        store.upsert_items([ItemRecord("i1", "Item")])
        record = EventRecord("u", "i1", "view", 0.5, 1e9)
        assert store.add_events([record]) == (1, [])
        assert store.add_events([record]) == (0, [])  # a client's repeat: skipped, no failed COPY
        assert direct_copies == []


def _overlapping_writer(url: str, worker: int, start: Any, results: Any) -> None:
    store = Store(url)
    inserted, attempts = 0, []
    real = store._copy_direct

    def spy(tx: Any, rows: Any) -> bool:
        attempts.append(real(tx, rows))
        return attempts[-1]

    store._copy_direct = spy  # type: ignore[method-assign]
    for r in range(ROUNDS):
        # Three quarters of each round's batch are the other worker's too, written in the other
        # order: one COPY waits on the other's keys (or deadlocks with it) and must fall back.
        first = r * ROUND + worker * N // 2
        keys = range(first, first + 2 * N)
        batch = [_batch(k, 1)[0] for k in (keys if worker == 0 else reversed(keys))]
        start.wait(60)
        inserted += store.add_event_columns(*_columns(batch))[0]
    store.close()
    results.put((inserted, attempts))


ROUNDS, ROUND = 3, 4 * N


def test_two_processes_copying_overlapping_batches_neither_lose_nor_duplicate(pg_url: str) -> None:
    import multiprocessing

    with Store(pg_url) as store:
        store.upsert_items([ItemRecord(f"i{k}", f"Item {k}") for k in range(7)])
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_overlapping_writer, args=(pg_url, w, start, results)) for w in (0, 1)]
    for p in procs:
        p.start()
    got = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    expected = _expected([e for r in range(ROUNDS) for e in _batch(r * ROUND, 2 * N + N // 2)])
    with Store(pg_url) as store:
        assert _stored(store) == expected
    assert sum(n for n, _ in got) == len(expected), "each event reported new by exactly one writer"
    attempts = [a for _, tried in got for a in tried]
    assert True in attempts and False in attempts, "both paths ran: direct, and the fallback"

"""Runs of event rows packed as columns (what the import's reader process sends), and the loader
fed with them: the same order, bad rows and stored events as rows one by one."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediarec.datasets import loader
from mediarec.datasets.base import Row
from mediarec.datasets.event_chunk import EventChunk, pack_rows
from mediarec.datasets.reader_process import fork_available, rows_in_child
from mediarec.records import BadRow, EventRecord, ItemRecord
from mediarec.store import Store


def _rows() -> list[Any]:
    return [
        Row("items.csv", 2, ItemRecord("a", "A")),
        Row("items.csv", 3, ItemRecord("b", "B")),
        Row("ev.csv", 2, EventRecord("u1", "a", "view", 0.5, 10.0)),
        Row("ev.csv", 3, EventRecord("u1", "b", "like", None, 11.0, "nice one"), fold="train"),
        BadRow("ev.csv", 4, "event type must be one of view, like, skip, share, comment, rating", "u1,a,fly"),
        Row("ev.csv", 5, EventRecord("u2", "a", "rating", 4.0, 12.0), fold="test"),
        Row("ev.csv", 6, EventRecord("u2", "zzz", "view", 1.0, 13.0)),
    ]


def test_runs_of_events_become_columns_in_their_place_and_round_trip() -> None:
    rows = _rows()
    packed = pack_rows(rows)
    assert [type(p).__name__ for p in packed] == ["Row", "Row", "EventChunk", "BadRow", "EventChunk"]
    chunks = [p for p in packed if isinstance(p, EventChunk)]
    assert chunks[0].users == ["u1", "u1"] and chunks[0].comments == [None, "nice one"]
    assert chunks[1].lines == [5, 6] and chunks[1].folds == ["test", None]
    again = pickle.loads(pickle.dumps(packed))
    unpacked = [r for p in again for r in (p.rows() if isinstance(p, EventChunk) else [p])]
    assert unpacked == rows


def test_a_chunk_is_split_and_taken_without_losing_a_row() -> None:
    (chunk,) = [p for p in pack_rows(_rows()[2:4]) if isinstance(p, EventChunk)]
    held = EventChunk()
    held.extend(chunk, 1)
    held.extend(chunk, 0, 1)
    taken = held.take()
    assert len(held) == 0 and taken.lines == [3, 2] and taken.types == ["like", "view"]
    assert taken.record(0) == EventRecord("u1", "b", "like", None, 11.0, "nice one")


def _importer(n: int, fail_at: int | None = None) -> Iterator[Any]:
    yield Row("items.csv", 1, ItemRecord("a", "A"))
    for k in range(n):
        if k == fail_at:
            raise ValueError(f"line {k} is unreadable")
        if k % 97 == 5:
            yield BadRow("ev.csv", k, "bad", "")
        else:
            yield Row("ev.csv", k, EventRecord(f"u{k % 13}", "a" if k % 50 else "gone", "view", 0.5, 1e9 + k))


@pytest.mark.parametrize("fork", [True, False], ids=["child", "no-fork"])
def test_packed_rows_from_the_reader_keep_order_and_an_importers_error(
    fork: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fork and not fork_available():
        pytest.skip("the reader process needs fork")
    if not fork:
        monkeypatch.setattr("mediarec.datasets.reader_process.fork_available", lambda: False)
    got: list[Any] = []
    with pytest.raises(ValueError, match="line 700 is unreadable"):
        for p in rows_in_child(_importer(1000, fail_at=700), chunk=64, pack=pack_rows):
            got.extend(p.rows() if isinstance(p, EventChunk) else [p])
    assert got == list(_importer(700))


def _import(store: Store, child: bool, batch: int) -> tuple[dict[str, int], list[tuple[int, str, str]]]:
    report = loader.load_rows(store, _importer(3000), "src", "test", batch_size=batch, reader_process=child)
    return report.counts(), sorted((b.line, b.reason, b.raw) for b in report.bad_rows)


def _contents(store: Store) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT u.external_id, i.external_id, e.type, e.value, e.ts FROM interactions e "
            "JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id ORDER BY 1, 5"
        )
    ]


@pytest.mark.skipif(not fork_available(), reason="the reader process needs fork")
def test_an_import_of_packed_events_stores_what_one_read_in_place_stores(pg_url: str, tmp_path: Path) -> None:
    results = []
    for url, child, batch in (
        (f"sqlite:///{tmp_path / 'inplace.db'}", False, 700),
        (pg_url, True, 700),  # batches over the direct COPY's threshold, chunks split across them
    ):
        with Store(url) as store:
            first = _import(store, child, batch)
            again = _import(store, child, batch)  # idempotent: the re-run adds nothing
            results.append((first, again[0]["events_new"], _contents(store)))
    assert results[0] == results[1]
    counts, bad = results[0][0]
    assert counts["events_read"] == 3000 - 31 and counts["events_new"] == 3000 - 31 - 60
    assert len(bad) == 31 + 60
    assert (150, "unknown item 'gone'", "user=u7 item=gone type=view value=0.5 ts=1000000150.0") in bad
    assert results[0][1] == 0 and len(results[0][2]) == 3000 - 31 - 60

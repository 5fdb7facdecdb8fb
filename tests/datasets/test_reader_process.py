from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediarec.datasets import import_path, loader
from mediarec.datasets.reader_process import fork_available, rows_in_child
from mediarec.store import Store
from tests.datasets.helpers import write

pytestmark = pytest.mark.skipif(not fork_available(), reason="the reader process needs fork")


def _numbered(n: int) -> Iterator[tuple[int, int]]:
    for k in range(n):
        yield k, os.getpid()


def test_rows_come_in_order_from_another_process() -> None:
    got = list(rows_in_child(_numbered(5000), chunk=64))
    assert [k for k, _ in got] == list(range(5000))
    assert {pid for _, pid in got} == {got[0][1]} and got[0][1] != os.getpid()
    assert not multiprocessing.active_children()


def test_an_importers_error_is_raised_after_the_rows_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(150)
        raise ValueError("row 150 is unreadable")

    got: list[int] = []
    with pytest.raises(ValueError, match="row 150 is unreadable"):
        for k in rows_in_child(failing(), chunk=64):
            got.append(k)
    assert got == list(range(150))
    assert not multiprocessing.active_children()


def test_a_consumer_that_stops_early_leaves_no_reader_behind() -> None:
    def endless() -> Iterator[int]:
        k = 0
        while True:
            yield k
            k += 1

    rows = rows_in_child(endless(), chunk=16)
    assert [next(rows) for _ in range(40)] == list(range(40))
    rows.close()  # type: ignore[attr-defined]
    assert not multiprocessing.active_children()


def _source(tmp_path: Path) -> Path:
    events = "".join(f"u{n % 37},i{n % 50},view,{1_600_000_000 + n}\n" for n in range(3000))
    return write(
        tmp_path / "g",
        {
            "items.csv": "id,title\n" + "".join(f"i{n},Item {n}\n" for n in range(50)),
            # An unknown item and a malformed row: per-row errors must survive the trip.
            "interactions.csv": "user,item,type,timestamp\n" + events + "u1,nope,view,5\nu1,i1,fly,6\n",
        },
    )


def test_an_import_read_in_a_child_stores_what_an_import_in_place_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path)
    children: list[int] = []

    def counting(rows: Iterable[object], chunk: int = 100, pack: Any = None) -> Iterator[object]:
        children.append(1)
        return rows_in_child(rows, chunk=chunk, pack=pack)

    monkeypatch.setattr(loader, "rows_in_child", counting)
    monkeypatch.setattr("mediarec.datasets.READER_PROCESS_MIN_BYTES", 0)
    reports, contents = [], []
    for name, child in (("inplace", False), ("child", True)):
        with Store(tmp_path / f"{name}.db") as store:
            report = import_path(store, source, batch_size=500, reader_process=child)
            reports.append((report.counts(), sorted((b.line, b.reason) for b in report.bad_rows)))
            contents.append(
                store.conn.execute(
                    "SELECT u.external_id, i.external_id, e.type, e.ts FROM interactions e "
                    "JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id ORDER BY 1, 2, 4"
                ).fetchall()
            )
    assert children == [1], "only the second import went through a child"
    assert reports[0] == reports[1] and len(reports[0][1]) == 2
    assert contents[0] == contents[1] and len(contents[0]) == 3000


def test_small_sources_are_read_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(tmp_path)
    children: list[int] = []
    monkeypatch.setattr(loader, "rows_in_child", lambda rows, **kw: children.append(1) or rows)
    with Store(tmp_path / "db.sqlite") as store:
        import_path(store, source, reader_process=True)  # a few kB: under the threshold
    assert children == []

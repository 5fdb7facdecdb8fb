"""PostgreSQL: a batch's new users are committed before its events, so a concurrent batch holding
the same new user does not wait for the whole first batch (the import's two writers ran one at a
time at 21 M events of 1 M users, docs/benchmarks.md)."""

from __future__ import annotations

import threading

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.backend import Conn


def test_a_batch_sharing_a_new_user_does_not_wait_for_the_other_batch(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(pg_url)
    store.upsert_items([ItemRecord("a", "A"), ItemRecord("b", "B")])
    inside, release = threading.Event(), threading.Event()
    real = Conn.copy_rows

    def held(self: Conn, *args: object, **kwargs: object) -> object:
        if not inside.is_set():  # the first batch stops inside its transaction, before its events
            inside.set()
            assert release.wait(30)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Conn, "copy_rows", held)
    results: list[int] = []
    first = threading.Thread(
        target=lambda: results.append(store.add_events([EventRecord("newcomer", "a", "view", 0.5, 1.0)])[0])
    )
    first.start()
    try:
        assert inside.wait(30)
        second_done = threading.Event()

        def second() -> None:
            results.append(store.add_events([EventRecord("newcomer", "b", "like", None, 2.0)])[0])
            second_done.set()

        threading.Thread(target=second, daemon=True).start()
        # Without the users committed first, the second batch's insert of "newcomer" waits on the
        # first batch's uncommitted row until that batch ends.
        finished = second_done.wait(5)
    finally:
        release.set()
        first.join(30)
    assert finished
    assert sorted(results) == [1, 1]
    rows = store.conn.execute("SELECT count(*), count(DISTINCT user_id) FROM interactions").fetchone()
    assert tuple(rows) == (2, 1)
    store.close()

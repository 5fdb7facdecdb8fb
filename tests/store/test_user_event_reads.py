"""The store reads the taste sample and the trending figures use (rank/audience.py, candidates.py),
on both backends: a few users' events through the user key, the user population by primary key, and
the trending window converted in bounded slices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store import events as events_module


@pytest.fixture
def store(store_url: str) -> Any:
    s = Store(store_url)
    s.upsert_items([ItemRecord(f"i{k}", f"Item {k}") for k in range(5)])
    rows = [
        EventRecord("u1", "i0", "view", 0.5, 100.0),
        EventRecord("u2", "i1", "like", None, 101.0),
        EventRecord("u1", "i2", "rating", 4.0, 102.0),
        EventRecord("u3", "i3", "skip", None, 103.0),
        EventRecord("u1", "i1", "view", None, 104.0),
        EventRecord("u2", "i4", "share", None, 105.0),
    ]
    s.add_events(rows)
    yield s
    s.close()


def _ids(store: Store) -> dict[str, int]:
    return {str(e): int(i) for i, e in store.conn.fetch_tuples("SELECT id, external_id FROM users")}


def test_events_of_users_reads_only_those_users_in_stored_order(store: Store) -> None:
    ids = _ids(store)
    ev = store.events_of_users([ids["u2"], ids["u1"], 10_000])  # an unknown id: nothing
    # Each user's events by event id (PostgreSQL's import stores a batch in key order, not as given).
    sql = (
        "SELECT user_id, item_id, type, value FROM interactions WHERE user_id IN (?, ?) ORDER BY user_id, id"
    )
    want = store.conn.fetch_tuples(sql, (ids["u1"], ids["u2"]))
    assert ev.users.tolist() == [r[0] for r in want] and ev.items.tolist() == [r[1] for r in want]
    assert ev.types.tolist() == [r[2] for r in want]
    assert sorted(ev.types.tolist()) == ["like", "rating", "share", "view", "view"]
    assert np.array_equal(
        ev.values, np.asarray([np.nan if r[3] is None else r[3] for r in want]), equal_nan=True
    )
    assert len(store.events_of_users([]).users) == 0


def test_population_and_stored_ids_follow_deletions(store: Store) -> None:
    ids = _ids(store)
    assert store.user_population() == (3, max(ids.values()))
    store.delete_user("u2")
    assert store.user_population()[0] == 2
    assert store.stored_user_ids([ids["u1"], ids["u2"], ids["u3"], 10_000]) == {ids["u1"], ids["u3"]}
    assert len(store.events_of_users([ids["u2"]]).users) == 0


def test_the_trending_window_is_converted_in_bounded_slices(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One asarray over a whole window held the GIL for ~0.1 s at 334 k rows."""
    want = store.recent_item_events(3.5)
    monkeypatch.setattr(events_module, "CONVERT_SLICE", 2)
    sizes: list[int] = []
    asarray = np.asarray

    def recording(rows: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(rows, list):
            sizes.append(len(rows))
        return asarray(rows, *args, **kwargs)

    monkeypatch.setattr(events_module.np, "asarray", recording)
    got = store.recent_item_events(3.5)
    monkeypatch.undo()
    assert sizes and max(sizes) <= 2
    newest, _, _, times = got
    assert newest == want[0] == 105.0
    for a, b in zip(got[1:], want[1:], strict=True):
        assert np.array_equal(np.sort(a), np.sort(b))
    assert sorted(times.tolist()) == [102.0, 104.0, 105.0]  # the skip is left out, 101 is too old

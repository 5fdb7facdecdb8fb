"""Background re-ranking after everything cached went stale at once (rank/warm.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mediarec.engine import MediaRec
from mediarec.rank import RankOptions
from mediarec.rank.cache import CacheKey
from mediarec.rank.warm import Warmer
from mediarec.records import ItemRecord
from tests.rank.conftest import make_engine

OPTIONS = RankOptions(weight_trending=0.0, new_item_share=1.0)  # as tests/rank/test_cache.py


def key(user: str) -> CacheKey:
    return CacheKey(user, 10, True, None, None, "als", RankOptions())


def wait_idle(warmer: Warmer) -> None:
    deadline = time.monotonic() + 30
    while not warmer.idle():
        assert time.monotonic() < deadline, "the warmer did not finish"
        time.sleep(0.01)


def test_a_newer_batch_replaces_the_one_in_progress() -> None:
    ranked: list[str] = []
    gate = threading.Event()

    def rank(k: CacheKey) -> None:
        ranked.append(k.user)
        gate.wait(10)

    warmer = Warmer(rank, pause=0.0)
    try:
        warmer.warm([key("a1"), key("a2"), key("a3")])
        while not ranked:
            time.sleep(0.001)
        warmer.warm([key("b1"), key("b2")])  # while a1 ranks: a2 and a3 are stale now, skipped
        gate.set()
        wait_idle(warmer)
        assert ranked == ["a1", "b1", "b2"]
    finally:
        warmer.close()
    warmer.warm([key("c")])  # closed: nothing runs
    assert ranked == ["a1", "b1", "b2"]


def test_it_pauses_between_rankings() -> None:
    def rank(k: CacheKey) -> None:
        time.sleep(0.02)

    warmer = Warmer(rank, pause=2.0)
    started = time.perf_counter()
    warmer.warm([key("a"), key("b")])
    wait_idle(warmer)
    warmer.close()
    assert time.perf_counter() - started >= 2 * 0.02 * 3  # each ranking and twice its time


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MediaRec:
    for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL", "MEDIAREC_SERVE_CACHE_SIZE"):
        monkeypatch.delenv(var, raising=False)
    made = make_engine(tmp_path / "home")
    made._ranker.catalogs.check_seconds = 0.0  # see a catalogue change at once
    return made


def test_a_catalogue_change_rewarms_the_other_users_lists(engine: MediaRec) -> None:
    rows = engine.store.conn.execute("SELECT external_id FROM users ORDER BY id LIMIT 2").fetchall()
    first, second = str(rows[0][0]), str(rows[1][0])
    for user in (second, first):
        assert not engine.rank_entry(user, n=8, options=OPTIONS)[1]
    shown = engine.rank(second, n=8, options=OPTIONS).items[0].item_id
    engine.add_items([ItemRecord(shown, title="Renamed while cached")])
    # The first request after the change ranks its own list, then sets the others re-ranking.
    assert not engine.rank_entry(first, n=8, options=OPTIONS)[1]
    wait_idle(engine._warmer)
    entry, hit = engine.rank_entry(second, n=8, options=OPTIONS)
    assert hit  # re-ranked in the background, never requested since the change
    assert "Renamed while cached" in [i.title for i in entry.result.items]
    with MediaRec(engine.home) as other:
        expected = other.rank(second, n=8, options=OPTIONS)
    assert [(i.item_id, i.title) for i in entry.result.items] == [
        (i.item_id, i.title) for i in expected.items
    ]
    engine.close()


def test_only_lists_requested_again_are_rewarmed(engine: MediaRec) -> None:
    rows = engine.store.conn.execute("SELECT external_id FROM users ORDER BY id LIMIT 3").fetchall()
    once, twice, trigger = (str(r[0]) for r in rows)
    first = {user: engine.rank_entry(user, n=8, options=OPTIONS) for user in (once, twice, trigger)}
    assert not any(hit for _, hit in first.values())
    assert engine.rank_entry(twice, n=8, options=OPTIONS)[1]  # asked for again: in use
    shown = first[once][0].result.items[0].item_id
    engine.add_items([ItemRecord(shown, title="Renamed while cached")])
    assert not engine.rank_entry(trigger, n=8, options=OPTIONS)[1]  # sees the change, starts the warm
    wait_idle(engine._warmer)
    # The list asked for twice was re-ranked in the background; the one asked for once was not.
    assert engine.rank_entry(twice, n=8, options=OPTIONS)[1]
    entry, hit = engine.rank_entry(once, n=8, options=OPTIONS)
    assert not hit and "Renamed while cached" in [i.title for i in entry.result.items]
    engine.close()

"""The per-user result cache: bounded, keyed by request and token, shared computations, and an
engine that serves a cached list only while it equals what a fresh engine ranks now."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediarec.engine import MediaRec
from mediarec.rank import RankOptions, RankResult
from mediarec.rank.cache import CLOCK_STEP, CacheKey, ResultCache, Serials, clock
from mediarec.records import EventRecord, ItemRecord
from tests.rank.conftest import make_engine

# Trending figures and new-item audiences are refreshed on their own schedules (a minute), so a
# long-lived engine's uncached list may differ from a fresh engine's; they are off here, as in
# tests/serve/test_replicas.py. Everything else stays on.
OPTIONS = RankOptions(weight_trending=0.0, new_item_share=1.0)


def key(user: str = "u", n: int = 10) -> CacheKey:
    return CacheKey(user, n, True, None, None, "als", RankOptions())


def result(tag: str) -> RankResult:
    return RankResult([], model_version=tag)


def test_a_changed_token_is_a_miss_and_an_equal_one_a_hit() -> None:
    cache = ResultCache(10)
    calls: list[str] = []

    def make(tag: str) -> Callable[[], RankResult]:
        def run() -> RankResult:
            calls.append(tag)
            return result(tag)

        return run

    first, hit = cache.compute(key(), ("t", 1), make("a"))
    assert not hit and first.result.model_version == "a"
    again, hit = cache.compute(key(), ("t", 1), make("b"))
    assert hit and again is first
    moved, hit = cache.compute(key(), ("t", 2), make("c"))
    assert not hit and moved.result.model_version == "c"
    other, hit = cache.compute(key(n=5), ("t", 2), make("d"))  # other options: another entry
    assert not hit and other.result.model_version == "d"
    assert calls == ["a", "c", "d"]
    assert cache.stats() == {"size": 10, "entries": 2, "hits": 1, "misses": 3}


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = ResultCache(2)
    cache.compute(key("a"), 1, lambda: result("a"))
    cache.compute(key("b"), 1, lambda: result("b"))
    cache.get(key("a"), 1)  # a is now the most recently used
    cache.compute(key("c"), 1, lambda: result("c"))
    assert len(cache) == 2
    assert cache.get(key("b"), 1) is None
    assert cache.get(key("a"), 1) is not None and cache.get(key("c"), 1) is not None
    assert cache.user_keys("b") == []


def test_size_zero_stores_nothing() -> None:
    cache = ResultCache(0)
    cache.compute(key(), 1, lambda: result("a"))
    assert len(cache) == 0 and cache.get(key(), 1) is None
    with pytest.raises(ValueError):
        ResultCache(-1)


def test_dropping_a_user_forgets_only_their_lists() -> None:
    cache = ResultCache(10)
    for user, n in (("gone", 5), ("gone", 10), ("kept", 10)):
        cache.compute(key(user, n), 1, lambda: result("x"))
    assert cache.drop_user("gone") == 2
    assert cache.user_keys("gone") == [] and cache.get(key("gone", 5), 1) is None
    assert cache.get(key("kept"), 1) is not None


def test_identical_misses_in_flight_share_one_computation() -> None:
    cache = ResultCache(10)
    calls = []
    started = threading.Event()

    def slow() -> RankResult:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return result("a")

    out = []
    first = threading.Thread(target=lambda: out.append(cache.compute(key(), 1, slow)))
    first.start()
    started.wait(5)
    second = cache.compute(key(), 1, slow)
    first.join()
    assert len(calls) == 1
    assert second[0] is out[0][0] and not second[1]


def test_a_clear_during_a_computation_keeps_its_answer_out() -> None:
    cache = ResultCache(10)

    def cleared_meanwhile() -> RankResult:
        cache.clear()  # a user was deleted while this list was being ranked
        return result("a")

    cache.compute(key(), 1, cleared_meanwhile)
    assert len(cache) == 0


def test_serials_are_never_reused_for_a_new_object() -> None:
    serials = Serials()

    class Snapshot:
        pass

    a = Snapshot()
    first = serials.of(a)
    assert serials.of(a) == first
    del a
    gc.collect()
    later = [serials.of(Snapshot()) for _ in range(50)]  # some land at the freed address
    assert first not in later


def test_clock_steps_end_after_now() -> None:
    now = 1_000_000.0 + 7.0
    assert now < clock(now) <= now + CLOCK_STEP
    assert clock(now) == clock(now + 1.0)


# -- through the engine --------------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MediaRec:
    for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL", "MEDIAREC_SERVE_CACHE_SIZE"):
        monkeypatch.delenv(var, raising=False)
    made = make_engine(tmp_path / "home")
    made._ranker.catalogs.check_seconds = 0.0  # see a catalogue change at once (normally 0.25 s)
    return made


def listed(engine: MediaRec, user: str) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None, bool]:
    entry, hit = engine.rank_entry(user, n=8, options=OPTIONS)
    items = [(r.item_id, r.title, tuple(x.text for x in r.reasons)) for r in entry.result.items]
    return items, entry.result.model_version, hit


def fresh(engine: MediaRec, user: str) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None]:
    with MediaRec(engine.home) as other:  # no cache of any kind yet
        items, version, _ = listed(other, user)
    return items, version


def check(engine: MediaRec, user: str, expect_hit: bool) -> list[tuple[str, str, tuple[str, ...]]]:
    items, version, hit = listed(engine, user)
    assert hit is expect_hit
    assert (items, version) == fresh(engine, user)
    return items


def test_the_engine_serves_a_list_again_only_while_nothing_it_read_changed(engine: MediaRec) -> None:
    user = str(engine.store.conn.execute("SELECT external_id FROM users ORDER BY id").fetchone()[0])
    other = "user-after"
    first = check(engine, user, expect_hit=False)
    check(engine, user, expect_hit=True)
    # An interaction of the user: their list changes (the item is seen now).
    engine.add_events([EventRecord(user, first[0][0], "like", None, time.time())])
    after = check(engine, user, expect_hit=False)
    assert first[0][0] not in [i for i, _, _ in after]
    check(engine, user, expect_hit=True)
    # Another user's interaction leaves this list cached (trending is off in these options).
    engine.add_events([EventRecord(other, first[1][0], "like", None, time.time())])
    check(engine, user, expect_hit=True)
    # A catalogue change: an item of the cached list is renamed.
    shown = after[0][0]
    engine.add_items([ItemRecord(shown, title="Renamed while cached")])
    renamed = check(engine, user, expect_hit=False)
    assert ("Renamed while cached" in [t for _, t, _ in renamed]) is (shown in [i for i, _, _ in renamed])
    # A new model version (trained here; another process's shows the same way, tests/serve).
    engine.train("als", factors=16, seed=4)
    version = listed(engine, user)[1]
    assert version == "0002"
    check(engine, user, expect_hit=True)
    # A deletion: every list goes, the deleted user's first.
    engine.rank_entry(other, n=8, options=OPTIONS)
    assert engine.results.user_keys(other)
    engine.delete_user(other)
    assert engine.results.user_keys(other) == [] and len(engine.results) == 0
    check(engine, user, expect_hit=False)
    check(engine, other, expect_hit=False)


def test_a_profile_edit_reaches_the_cached_reasons(engine: MediaRec) -> None:
    user = str(engine.store.conn.execute("SELECT external_id FROM users ORDER BY id").fetchone()[0])
    check(engine, user, expect_hit=False)
    catalog = engine._ranker.catalogs.get(engine.store)
    tags = sorted({t.tag for item_tags in catalog.tags for t in item_tags})
    engine.edit_profile(user, remove_tags=tags[:3])
    check(engine, user, expect_hit=False)
    check(engine, user, expect_hit=True)


def test_another_process_deleting_a_user_empties_this_cache(engine: MediaRec) -> None:
    user = str(engine.store.conn.execute("SELECT external_id FROM users ORDER BY id").fetchone()[0])
    check(engine, user, expect_hit=False)
    with MediaRec(engine.home) as elsewhere:
        elsewhere.delete_user(user)
    items, version, hit = listed(engine, user)
    assert not hit and len(engine.results) == 1  # the lists cached before the deletion are gone
    assert (items, version) == fresh(engine, user)


def test_a_served_entry_keeps_its_list_pickled_out_of_the_gc(engine: MediaRec) -> None:
    user = str(engine.store.conn.execute("SELECT external_id FROM users ORDER BY id").fetchone()[0])
    entry, _ = engine.rank_entry(user, n=8, options=OPTIONS)
    ranked = entry.result
    entry.body = b'{"served": true}'  # as the server does after serialising the answer
    assert entry._result is None and entry._packed is not None  # bytes: not tracked by the GC
    assert not gc.is_tracked(entry._packed)
    again, hit = engine.rank_entry(user, n=8, options=OPTIONS)
    assert hit and again is entry and again.body == b'{"served": true}'
    assert again.result == ranked and again.result is not ranked


def test_a_server_engine_freezes_what_it_loaded_once(engine: MediaRec) -> None:
    user = str(engine.store.conn.execute("SELECT external_id FROM users ORDER BY id").fetchone()[0])
    gc.unfreeze()
    engine.freeze_gc = True
    try:
        engine.rank_entry(user, n=8, options=OPTIONS)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        engine.rank_entry(user, n=8, options=OPTIONS.with_overrides(mmr_lambda=0.5))
        assert gc.get_freeze_count() < frozen + 100  # not again: a list alone is ~100 objects
    finally:
        gc.unfreeze()

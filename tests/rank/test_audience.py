"""New items reach a bounded audience chosen by taste, and explored slots say so (issue 13, item 3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets import demo
from mediarec.engine import MediaRec
from mediarec.rank import RankOptions
from mediarec.rank.audience import Audiences
from mediarec.records import ItemRecord
from tests.rank.conftest import content_vector, make_engine

NEW = {"new-cooking": "cooking", "new-science": "science", "new-travel": "travel", "new-music": "music"}
TASTES = demo.user_tastes()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRec]:
    engine = make_engine(tmp_path_factory.mktemp("audience") / "home")
    # The catalogue is 90 days old; four uploads with no viewers arrive now.
    with engine.store.transaction() as tx:
        tx.execute("UPDATE items SET created = created - 90 * 86400")
    engine.add_items([ItemRecord(i, f"New on {t}", creator="Newcomer") for i, t in NEW.items()])
    for k, (item, topic) in enumerate(NEW.items()):
        engine.store.add_feature(item, "text", "test/1", vector=content_vector(topic, 5000 + k))
    with engine:
        yield engine


def _exposure(engine: MediaRec, options: RankOptions) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {i: [] for i in NEW}
    for user in TASTES:
        for rec in engine.recommend(user, n=10, options=options):
            if rec.item_id in NEW:
                shown[rec.item_id].append(user)
    return shown


def test_each_new_item_reaches_at_most_its_share_and_mostly_matching_tastes(fresh: MediaRec) -> None:
    opts = fresh.rank_options.with_overrides(explore_epsilon=0.3)
    shown = _exposure(fresh, opts)
    for item, users in shown.items():
        assert len(users) <= 0.2 * len(TASTES), (item, len(users))
        assert users, item  # targeted, not hidden: the best-matching users do get it
        matching = sum(NEW[item] in TASTES[u] for u in users)
        assert matching >= 0.7 * len(users), (item, users)
    # Without the bound (share 1) the same new items crowd far more lists: the test can fail.
    unbounded = _exposure(fresh, opts.with_overrides(new_item_share=1.0))
    assert max(len(u) for u in unbounded.values()) > 0.2 * len(TASTES)


def test_a_user_whose_taste_does_not_match_is_not_offered_the_item(fresh: MediaRec) -> None:
    opts = fresh.rank_options.with_overrides(explore_epsilon=1.0)
    outsiders = [u for u, t in TASTES.items() if "cooking" not in t][:15]
    for user in outsiders:
        ids = [r.item_id for r in fresh.recommend(user, n=10, options=opts)]
        assert "new-cooking" not in ids, user


def test_explored_slots_are_labelled_with_the_taste_match(fresh: MediaRec) -> None:
    opts = fresh.rank_options.with_overrides(explore_epsilon=1.0)
    labelled = []
    for user in TASTES:
        for rec in fresh.recommend(user, n=10, options=opts):
            if rec.reasons and rec.reasons[0].kind == "explore":
                ev = rec.reasons[0].evidence
                assert "whose taste matches it" in rec.reasons[0].text
                assert ev["taste_match"] >= fresh.rank_options.new_item_min_match and ev["viewers"] == 0
                labelled.append(rec.item_id)
    assert labelled


def test_the_audience_moves_on_each_period(fresh: MediaRec) -> None:
    """In the next period the next-best share gets the item, not the same users again."""
    from mediarec.rank.audience import AudienceRule, all_tastes, audiences, centred

    catalog = fresh._ranker.catalogs.get(fresh.store)
    content = centred(catalog)
    tastes = all_tastes(fresh.store, catalog, fresh.weights, content)
    rule = AudienceRule(0.2, 7.0, -1.0, 30.0, 3)
    viewers = np.zeros(len(catalog))
    pos = catalog.index["new-science"]
    now = float(catalog.created[pos])
    first = audiences(tastes, catalog, viewers, rule, now + 60, content)
    second = audiences(tastes, catalog, viewers, rule, now + 8 * 86400, content)
    match = tastes @ content[pos]
    in_first = (match >= first.low[pos]) & (match < first.high[pos])
    in_second = (match >= second.low[pos]) & (match < second.high[pos])
    size = int(0.2 * len(tastes))
    assert in_first.sum() <= size + 1 and in_second.sum() <= size + 1
    assert not (in_first & in_second).any()
    assert match[in_first].min() >= match[in_second].max()


def test_new_item_without_content_gets_a_hashed_audience_of_the_same_share(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "home", features=False)
    with engine.store.transaction() as tx:
        tx.execute("UPDATE items SET created = created - 90 * 86400")
    engine.add_items([ItemRecord("mystery", "No features yet")])
    opts = engine.rank_options.with_overrides(explore_epsilon=1.0)
    got = [u for u in TASTES if "mystery" in {r.item_id for r in engine.recommend(u, n=10, options=opts)}]
    assert 1 <= len(got) <= 0.35 * len(TASTES)  # hash below 0.2: binomial(60, 0.2), ~12 ± 3
    engine.close()


class _FakeCatalog:
    """A fake for these tests only: the fields of a catalogue snapshot that `audiences` reads."""

    def __init__(self, n_items: int, dim: int, rng: np.random.Generator, now: float) -> None:
        self.content = rng.standard_normal((n_items, dim)).astype(np.float32)
        self.content /= np.linalg.norm(self.content, axis=1, keepdims=True)
        self.has_content = np.ones(n_items, dtype=bool)
        # Ages spread over three 7-day periods, all within the fresh window.
        self.since = now - rng.uniform(0, 20, n_items) * 86400.0

    def __len__(self) -> int:
        return len(self.content)


def _bands_by_sorting(tastes: np.ndarray, vectors: np.ndarray, cat: _FakeCatalog, rule, now: float):  # type: ignore[no-untyped-def]
    """The bands as first written: every user's match sorted, per item."""
    n_users, size = len(tastes), int(np.floor(rule.share * len(tastes) + 1e-9))
    high, low = np.full(len(cat), np.inf), np.full(len(cat), np.inf)
    sims = tastes @ vectors.T
    sims[np.linalg.norm(tastes, axis=1) == 0] = -np.inf
    for p in range(len(cat)):
        k = int(max(now - cat.since[p], 0.0) / 86400 // rule.period_days)
        ranked = np.sort(sims[:, p])[::-1]
        first, last = k * size, (k + 1) * size - 1
        if first >= n_users:
            continue
        high[p] = np.inf if first == 0 else float(ranked[first - 1])
        low[p] = max(float(ranked[min(last, n_users - 1)]), rule.min_match)
    return high, low


def test_bands_equal_a_full_sort_of_every_user_below_the_sample_size() -> None:
    from mediarec.rank.audience import AudienceRule, audiences

    rng, now = np.random.default_rng(5), 1.7e9
    cat = _FakeCatalog(700, 16, rng, now)  # more than one block of the product
    tastes = rng.standard_normal((900, 16)).astype(np.float32)
    tastes[:30] = 0  # users without a taste
    tastes[30:] /= np.linalg.norm(tastes[30:], axis=1, keepdims=True)
    rule = AudienceRule(0.1, 7.0, -1.0, 30.0, 3)
    found = audiences(tastes, cat, np.zeros(len(cat)), rule, now, cat.content)  # type: ignore[arg-type]
    high, low = _bands_by_sorting(tastes, cat.content, cat, rule, now)
    # Equal up to float32 rounding: the product is now taken in blocks.
    assert np.allclose(found.high, high, atol=1e-6) and np.allclose(found.low, low, atol=1e-6)
    assert np.array_equal(np.isinf(found.high), np.isinf(high)) and np.array_equal(
        np.isinf(found.low), np.isinf(low)
    )


def test_above_the_sample_size_each_band_still_holds_about_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million users against thousands of new items was a 31 GiB product: bands now come from a
    seeded sample, and each period's audience stays close to share x users."""
    import mediarec.rank.audience as audience

    monkeypatch.setattr(audience, "SAMPLE_USERS", 2000)
    rng, now = np.random.default_rng(6), 1.7e9
    cat = _FakeCatalog(40, 16, rng, now)
    tastes = rng.standard_normal((30_000, 16)).astype(np.float32)
    tastes /= np.linalg.norm(tastes, axis=1, keepdims=True)
    rule = audience.AudienceRule(0.1, 7.0, -1.0, 30.0, 3)
    found = audience.audiences(tastes, cat, np.zeros(len(cat)), rule, now, cat.content)  # type: ignore[arg-type]
    match = tastes @ cat.content.T
    inside = (match >= found.low) & (match < found.high)
    shares = inside.mean(axis=0)
    assert np.all(np.abs(shares - 0.1) < 0.02), shares  # sampling error: ~0.7% of users here


def _bands(mark: float) -> Audiences:
    """A one-item band set whose edges carry ``mark`` (the time it was computed for)."""
    return Audiences(1, np.ones(1, dtype=bool), np.full(1, mark), np.full(1, mark), np.zeros(1, np.int64))


def test_bands_refresh_in_the_background_while_requests_keep_the_previous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a million items one computation of the bands takes seconds: only a new snapshot (or a
    clock far from the bands') makes a request wait for it; new tastes, viewers and the minute
    passing are picked up by a background refresh."""
    from mediarec.rank import audience

    monkeypatch.setattr(audience, "BANDS_REFRESH_SECONDS", 0.0)
    cache = audience.BandCache()
    release = threading.Event()
    calls: list[float] = []

    def compute(at: float) -> Audiences:
        calls.append(at)
        if len(calls) == 2:
            assert release.wait(10)  # the background refresh, held until the request has returned
        return _bands(at)

    def get(snapshot: int, tastes: int, now: float) -> Audiences:
        found = cache.get(("snapshot", snapshot), ("tastes", tastes), now, compute)
        assert found is not None  # waiting requests always get bands
        return found

    first = get(1, 1, 1_000.0)
    assert first.high[0] == 1_000.0
    started = time.perf_counter()
    again = get(1, 2, 1_030.0)
    assert again is first and time.perf_counter() - started < 1.0  # did not wait for the refresh
    release.set()
    deadline = time.monotonic() + 10
    while get(1, 2, 1_031.0).high[0] < 1_030.0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # A clock past the allowed lag (a week later, as a caller passing its own time) or a new
    # snapshot: computed on the request itself.
    week = 1_030.0 + 7 * 86400
    assert get(1, 2, week).high[0] == week
    assert get(2, 2, week).high[0] == week


def test_hashed_audience_draws_are_uniform_per_item_and_the_same_in_every_call() -> None:
    """Items without content get users whose draw for (user, item, period) is below the share; the
    draws are vectorised over items, must not depend on the process, and cover each item's share."""
    from mediarec.rank.audience import _hash_units, _key64

    keys = np.asarray([_key64(f"item-{k}") for k in range(50)], dtype=np.uint64)
    periods = np.zeros(50, dtype=np.int64)
    draws = np.stack([_hash_units(f"user-{u}", keys, periods) for u in range(4000)])
    assert ((draws >= 0) & (draws < 1)).all()
    share = (draws < 0.2).mean(axis=0)  # per item, over users: binomial(4000, 0.2), sd 0.0063
    assert np.abs(share - 0.2).max() < 0.03
    again = _hash_units("user-7", keys, periods)
    np.testing.assert_array_equal(again, draws[7])
    # Another period draws anew (the audience moves on), not the same users.
    moved = np.stack([_hash_units(f"user-{u}", keys, periods + 1) for u in range(4000)])
    assert ((moved < 0.2) & (draws < 0.2)).mean() < 0.06  # independent: ~0.04
    # Fixed values: the same draws in any process (SHA-256 keys, no salted hash()).
    one = _hash_units("u", np.asarray([_key64("i")], dtype=np.uint64), np.zeros(1, np.int64))
    assert round(float(one[0]), 9) == 0.044635201


def test_a_big_catalogues_first_bands_come_from_the_background_new_items_held_back_meanwhile(
    fresh: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above BACKGROUND_RELOAD_ITEMS no request computes the bands (minutes at a million items):
    until the background computation ends, every new item is held back (shown to nobody), then
    each reaches its audience as before."""
    from mediarec.rank import audience
    from mediarec.rank import ranker as ranker_module

    monkeypatch.setattr(ranker_module, "BACKGROUND_RELOAD_ITEMS", 0)
    release = threading.Event()
    real = ranker_module.audiences

    def held(*args: object, **kwargs: object) -> Audiences:
        assert release.wait(20)  # the background computation, held until the requests below ran
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ranker_module, "audiences", held)
    monkeypatch.setattr(fresh._ranker, "bands", audience.BandCache())  # no bands computed yet
    fresh.results.clear()
    opts = fresh.rank_options.with_overrides(explore_epsilon=0.3)
    assert _exposure(fresh, opts) == {i: [] for i in NEW}  # answered at once, without them
    release.set()
    deadline = time.monotonic() + 20
    while fresh._ranker.bands._value is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    fresh.results.clear()
    shown = _exposure(fresh, opts)
    assert all(shown.values()) and all(len(u) <= 0.2 * len(TASTES) for u in shown.values())


def test_bands_are_refreshed_at_most_once_per_ten_times_their_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediarec.rank import audience

    monkeypatch.setattr(audience, "BANDS_REFRESH_SECONDS", 0.0)
    cache = audience.BandCache()
    calls: list[float] = []

    def slow(at: float) -> Audiences:
        calls.append(at)
        time.sleep(0.1)  # a computation of 0.1 s: no refresh within the next ~1 s
        return _bands(at)

    cache.get(("snapshot", 1), ("tastes", 1), 1_000.0, slow, wait=False)  # first: in the background
    deadline = time.monotonic() + 10
    while cache.get(("snapshot", 1), ("tastes", 1), 1_000.0, slow, wait=False) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for k in range(20):  # new tastes every time, for 0.4 s
        cache.get(("snapshot", 1), ("tastes", 2 + k), 1_001.0 + k, slow, wait=False)
        time.sleep(0.02)
    assert len(calls) == 1


class _CountedViewers(np.ndarray):
    """Trending viewers that count how often a request converts them (a catalogue-sized copy)."""

    converted = 0

    def astype(self, *args: object, **kwargs: object) -> np.ndarray:
        type(self).converted += 1
        return np.asarray(self).astype(*args, **kwargs)  # type: ignore[call-overload]


def test_requests_on_cached_bands_make_no_catalogue_sized_viewer_array(fresh: MediaRec) -> None:
    """Only a computation of the bands needs every item's viewers; a request served from cached
    bands must not build them (a million-element array per request at 1 M items)."""
    from mediarec.rank.history import load_history

    user = next(iter(TASTES))
    fresh.recommend(user, n=10)  # catalogue, model view and tastes in place
    ranker, store = fresh._ranker, fresh.store
    catalog = ranker.catalogs.get(store)
    view = next(v for k, v in ranker._views.items() if k[1] == id(catalog))
    history = load_history(store, user, catalog, fresh.weights)
    live = np.zeros(len(catalog), dtype=np.int64).view(_CountedViewers)
    _CountedViewers.converted = 0
    args = (store, catalog, view, live, history, user, fresh.weights, fresh.rank_options, time.time())
    assert ranker.bands._value is not None  # computed by the request above, refreshed at most each minute
    first = ranker._audience(*args)
    for _ in range(3):
        again = ranker._audience(*args)
        assert np.array_equal(again[0], first[0])
    assert _CountedViewers.converted == 0

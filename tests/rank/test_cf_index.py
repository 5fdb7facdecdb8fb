"""CF candidates from the inner-product index agree with the exact product (rank/cf_index.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from mediarec.rank import cf_index
from mediarec.rank.candidates import cf_source
from mediarec.rank.cf_index import FactorIndex, IndexedCF, LazyFactorIndex
from tests.rank.conftest import make_engine


def _factors(n: int, dim: int, seed: int) -> np.ndarray:
    """ALS-like factors: a few taste clusters, norms spread like popularity, some all-zero rows
    (items nobody engaged with)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (12, dim))
    f = centres[rng.integers(0, 12, n)] + rng.normal(0, 0.5, (n, dim))
    f *= rng.lognormal(-1.0, 0.6, (n, 1))
    f[rng.random(n) < 0.05] = 0.0
    return f.astype(np.float32)


def test_index_candidates_match_the_exact_product_on_small_data() -> None:
    factors = _factors(3_000, 16, seed=1)
    index = FactorIndex.build(factors, threads=1)
    assert index.indexed == int(np.count_nonzero(np.linalg.norm(factors, axis=1) > 0))
    rng = np.random.default_rng(2)
    cat_of_model = rng.permutation(len(factors)).astype(np.int64)  # catalogue order differs
    cat_of_model[:30] = -1  # items gone from the store
    recalls, top10 = [], []
    for _ in range(40):
        vector = (factors[rng.integers(0, len(factors), 5)].sum(axis=0)).astype(np.float32)
        allowed = rng.random(len(factors)) > 0.1  # seen items and other filters
        cf = IndexedCF(index, vector, cat_of_model)
        got = cf.source(allowed, 100, skip=300)
        assert got is not None and len(got.positions) == 100
        want = cf_source(cf.full(len(factors)), allowed, 100)
        assert allowed[got.positions].all()
        # Every score is the model's exact one; only the candidate set may differ.
        model_of_cat = np.full(len(factors), -1)
        model_of_cat[cat_of_model[cat_of_model >= 0]] = np.flatnonzero(cat_of_model >= 0)
        exact = factors[model_of_cat[got.positions]] @ vector
        np.testing.assert_allclose(got.scores, exact, rtol=1e-5, atol=1e-6)
        assert (np.diff(got.scores) <= 0).all()
        recalls.append(len(set(got.positions.tolist()) & set(want.positions.tolist())) / 100)
        top10.append(len(set(got.positions[:10].tolist()) & set(want.positions[:10].tolist())) / 10)
    # Measured: 0.926 of the top 100 (worst user 0.76), every top 10 complete.
    assert float(np.mean(recalls)) >= 0.9, recalls
    assert min(top10) == 1.0, top10


def test_a_narrow_filter_falls_back_to_the_exact_product() -> None:
    factors = _factors(2_000, 8, seed=3)
    index = FactorIndex.build(factors, threads=1)
    allowed = np.zeros(len(factors), dtype=bool)
    allowed[[5, 700, 1999]] = True  # fewer allowed items than candidates wanted
    cf = IndexedCF(index, factors[10], np.arange(len(factors), dtype=np.int64))
    assert cf.source(allowed, 50, skip=0) is None


def test_lazy_index_builds_in_the_background_saves_and_reopens(tmp_path: Path) -> None:
    factors = _factors(1_500, 8, seed=4)
    lazy = LazyFactorIndex(tmp_path, factors)
    deadline = time.monotonic() + 30
    first = lazy.get()  # None while building: requests keep the exact product
    while first is None and time.monotonic() < deadline:
        time.sleep(0.02)
        first = lazy.get()
    assert first is not None and (tmp_path / cf_index.FILE).is_file()
    reopened = LazyFactorIndex(tmp_path, factors).get()  # the saved file, no build
    assert reopened is not None and reopened.indexed == first.indexed
    q = factors[3]
    assert reopened.search(q, 20).positions.tolist() == first.search(q, 20).positions.tolist()
    # A file of other factors (another width) is not used.
    assert FactorIndex.open(tmp_path / cf_index.FILE, _factors(1_500, 4, seed=4)) is None


def test_ranking_through_the_index_equals_the_exact_ranking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the threshold lowered to the demo catalogue, train saves the index beside the model,
    requests rank through it, and every user's list equals the one from the exact product."""
    for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cf_index, "MIN_ITEMS", 1)
    engine = make_engine(tmp_path / "home")
    with engine:
        loaded = engine.loaded("als")
        assert loaded is not None and (loaded.path / cf_index.FILE).is_file()
        users = sorted(str(u) for u in loaded.model.user_ids)
        via_index = [engine.rank(u, 10).items for u in users]
        view = next(iter(engine._ranker._views.values()))
        assert view.factor_index is not None and view.factor_index.get() is not None
        monkeypatch.setattr(cf_index, "MIN_ITEMS", 10**9)
        engine._ranker._views.clear()
        engine.results.clear()
        exact = [engine.rank(u, 10).items for u in users]
        view = next(iter(engine._ranker._views.values()))
        assert view.factor_index is None
    assert [[r.item_id for r in x] for x in via_index] == [[r.item_id for r in x] for x in exact]
    assert via_index == exact  # scores and reasons too


def test_scrubbing_a_user_keeps_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mediarec.recommenders import repository

    for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cf_index, "MIN_ITEMS", 1)
    engine = make_engine(tmp_path / "home", features=False)
    with engine:
        loaded = engine.loaded("als")
        assert loaded is not None
        user = str(loaded.model.user_ids[0])
        assert repository.scrub_users(loaded.path, {user})
        assert (loaded.path / cf_index.FILE).is_file()

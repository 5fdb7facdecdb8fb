"""The shared contract every recommender must pass (as implicit's recommender_base tests do).

A test class mixes this in and defines ``make(self) -> Recommender``. The data has planted
structure: two communities of users, each consuming its own half of the catalogue, so a model
that learns anything must prefer its community's unseen items.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediarec.interactions import Interactions, from_indices
from mediarec.recommenders import NotFittedError, Recommender

N_USERS, N_ITEMS = 40, 30


def community_data(seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    half = N_ITEMS // 2
    for u in range(N_USERS):
        own = np.arange(half) if u % 2 == 0 else np.arange(half, N_ITEMS)
        picked = rng.choice(own, size=8, replace=False)
        rows += [u] * len(picked)
        cols += picked.tolist()
    r, c = np.asarray(rows), np.asarray(cols)
    times = 1_700_000_000 + rng.random(len(r)) * 1e6
    return from_indices(
        r, c, np.ones(len(r)), [f"u{i}" for i in range(N_USERS)], [f"i{i}" for i in range(N_ITEMS)], times
    )


def community_features(n_items: int = N_ITEMS, dim: int = 8, noise: float = 0.3, seed: int = 1) -> np.ndarray:
    """Item vectors that know the communities: each half of the catalogue around its own direction."""
    rng = np.random.default_rng(seed)
    centre = np.zeros((n_items, dim), dtype=np.float32)
    centre[: n_items // 2, 0] = 1.0
    centre[n_items // 2 :, 1] = 1.0
    return (centre + noise * rng.standard_normal((n_items, dim))).astype(np.float32)


class RecommenderContract:
    # Models that learn nothing from users (random, popularity) switch this off.
    learns_communities = True

    def make(self) -> Recommender:
        raise AssertionError("the test class must define make()")

    def features(self, data: Interactions) -> np.ndarray | None:
        """Item features passed to fit(); feature-aware models return some (see community_features)."""
        return None

    @pytest.fixture
    def data(self) -> Interactions:
        return community_data()

    @pytest.fixture
    def fitted(self, data: Interactions) -> Recommender:
        model = self.make()
        assert model.fit(data, item_features=self.features(data)) is model
        return model

    def test_unfitted_model_refuses_to_recommend(self) -> None:
        with pytest.raises(NotFittedError):
            self.make().recommend([0], n=3)

    def test_batch_shapes_and_order(self, fitted: Recommender) -> None:
        ids, scores = fitted.recommend(np.arange(N_USERS), n=5)
        assert ids.shape == scores.shape == (N_USERS, 5)
        assert ids.dtype.kind == "i"
        assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must come best first"

    def test_filter_seen(self, fitted: Recommender, data: Interactions) -> None:
        ids, _ = fitted.recommend(np.arange(N_USERS), n=10)
        for u in range(N_USERS):
            assert not set(ids[u][ids[u] >= 0]) & set(data.matrix[u].indices)

    def test_seen_items_come_back_without_filter(self, fitted: Recommender, data: Interactions) -> None:
        ids, _ = fitted.recommend([0], n=N_ITEMS, filter_seen=False)
        assert set(data.matrix[0].indices) <= set(ids[0])

    def test_candidates_restrict_the_ranking(self, fitted: Recommender) -> None:
        allowed = [1, 5, 7, 20, 29]
        ids, scores = fitted.recommend([0, 1], n=10, filter_seen=False, candidates=allowed)
        for row in ids:
            assert set(row[row >= 0]) <= set(allowed)
        assert np.all(ids[:, 5:] == -1) and np.all(np.isneginf(scores[:, 5:]))

    def test_exclude_drops_items(self, fitted: Recommender) -> None:
        ids, _ = fitted.recommend([0], n=N_ITEMS, filter_seen=False, exclude=[[3, 4]])
        assert 3 not in ids[0] and 4 not in ids[0]

    def test_n_larger_than_catalogue_pads(self, fitted: Recommender, data: Interactions) -> None:
        ids, scores = fitted.recommend([0], n=N_ITEMS + 10)
        valid = ids[0] >= 0
        assert valid.sum() == N_ITEMS - data.matrix[0].nnz
        assert np.all(np.isfinite(scores[0][valid]))

    def test_out_of_range_user(self, fitted: Recommender) -> None:
        with pytest.raises(IndexError):
            fitted.recommend([N_USERS], n=3)

    def test_similar_items_excludes_itself(self, fitted: Recommender) -> None:
        ids, _ = fitted.similar_items([0, 16], n=4)
        assert ids.shape == (2, 4)
        assert 0 not in ids[0] and 16 not in ids[1]

    def test_learns_planted_communities(self, fitted: Recommender) -> None:
        if not self.learns_communities:
            pytest.skip("this model ignores who the user is by design")
        ids, _ = fitted.recommend(np.arange(N_USERS), n=5)
        half = N_ITEMS // 2
        own = [(ids[u] < half).mean() if u % 2 == 0 else (ids[u] >= half).mean() for u in range(N_USERS)]
        assert np.mean(own) > 0.8, f"only {np.mean(own):.2f} of recommendations fall in the user's community"

    def test_save_load_round_trip(self, fitted: Recommender, tmp_path: Path) -> None:
        folder = fitted.save(tmp_path / "model")
        loaded = type(fitted).load(folder)
        assert loaded.params == fitted.params
        a_ids, a_scores = fitted.recommend(np.arange(N_USERS), n=5)
        b_ids, b_scores = loaded.recommend(np.arange(N_USERS), n=5)
        np.testing.assert_array_equal(a_ids, b_ids)
        np.testing.assert_allclose(a_scores, b_scores, rtol=1e-6)
        assert not list(folder.glob("*.pkl")), "models are persisted without pickle"

    def test_load_refuses_pickled_arrays(self, fitted: Recommender, tmp_path: Path) -> None:
        folder = fitted.save(tmp_path / "model")
        np.savez(folder / "arrays.npz", user_ids=np.array([object()], dtype=object))
        with pytest.raises(ValueError):
            type(fitted).load(folder)

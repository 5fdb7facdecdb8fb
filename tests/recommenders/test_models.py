"""Every registered model passes the shared contract."""

from __future__ import annotations

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.interactions import from_indices
from mediarec.recommenders import Recommender
from tests.recommenders.recommender_base import RecommenderContract


class TestRandom(RecommenderContract):
    learns_communities = False

    def make(self) -> Recommender:
        return recommenders.create("random")


class TestPopularity(RecommenderContract):
    learns_communities = False

    def make(self) -> Recommender:
        return recommenders.create("popularity")


class TestItemKNNCosine(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("itemknn", neighbours=20)


class TestItemKNNBM25(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("itemknn-bm25", neighbours=20)


class TestALS(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("als", factors=8, iterations=10)


class TestBPR(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("bpr", factors=8, iterations=200, learning_rate=0.05)


def test_every_registered_model_is_covered() -> None:
    # content, hybrid and ease pass the contract in test_content_hybrid.py
    covered = {"random", "popularity", "itemknn", "itemknn-bm25", "als", "bpr", "ease", "content", "hybrid"}
    covered.add("dlae")  # passes the contract in test_dlae.py
    covered.add("gfcf")  # passes the contract in test_gfcf.py
    assert set(recommenders.MODELS) == covered


def test_unknown_model_and_option_are_named() -> None:
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        recommenders.create("nope")
    with pytest.raises(ValueError, match="no option"):
        recommenders.create("als", colour="blue")


def test_popularity_decays_old_engagement() -> None:
    day = 86400.0
    # item 0: three users long ago; item 1: two users yesterday.
    rows = np.array([0, 1, 2, 3, 4])
    cols = np.array([0, 0, 0, 1, 1])
    times = np.array([0.0, 0.0, 0.0, 100 * day, 100 * day])
    data = from_indices(rows, cols, np.ones(5), [f"u{i}" for i in range(6)], ["a", "b"], times)
    plain = recommenders.create("popularity", half_life_days=0).fit(data)
    decayed = recommenders.create("popularity", half_life_days=7).fit(data)
    assert plain.recommend([5], n=1)[0][0, 0] == 0
    assert decayed.recommend([5], n=1)[0][0, 0] == 1


def test_random_is_seeded() -> None:
    from tests.recommenders.recommender_base import community_data

    data = community_data()
    a = recommenders.create("random", seed=1).fit(data).recommend([0, 1], n=5)[0]
    b = recommenders.create("random", seed=1).fit(data).recommend([0, 1], n=5)[0]
    c = recommenders.create("random", seed=2).fit(data).recommend([0, 1], n=5)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_itemknn_matches_implicit_bm25() -> None:
    """Our blockwise BM25 item-kNN ranks like implicit's C++ implementation."""
    from implicit.nearest_neighbours import BM25Recommender

    from tests.recommenders.recommender_base import community_data

    data = community_data(seed=3)
    ours = recommenders.create("itemknn-bm25", neighbours=10).fit(data)
    ref = BM25Recommender(K=10)
    ref.fit(data.matrix, show_progress=False)
    a, b = ours.similarity.toarray(), ref.similarity.toarray()
    # Ties at the K-th neighbour may keep different items; the kept similarity values must agree.
    np.testing.assert_allclose(np.sort(a, axis=1), np.sort(b, axis=1), rtol=1e-4, atol=1e-5)
    assert (~np.isclose(a, b, rtol=1e-4, atol=1e-5)).any(axis=1).mean() < 0.2

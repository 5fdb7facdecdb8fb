"""The hybrid on every CF core: the shared contract, cold placement, and core reuse across fits."""

from __future__ import annotations

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.interactions import Interactions
from mediarec.recommenders import Recommender
from mediarec.recommenders.hybrid import HybridRecommender
from tests.recommenders.recommender_base import RecommenderContract, community_features
from tests.recommenders.test_content_hybrid import _cold_precision, _topic_world


class TestHybridItemKNN(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="itemknn", knn_neighbours=10, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridBM25(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="itemknn-bm25", knn_neighbours=10, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridTwoCores(RecommenderContract):
    """A small weighted ensemble: EASE plus BM25 item-kNN, scaled to EASE's spread."""

    def make(self) -> Recommender:
        return recommenders.create(
            "hybrid",
            core="ease",
            l2=10.0,
            core2="itemknn-bm25",
            core2_weight=0.5,
            knn_neighbours=10,
            neighbours=5,
        )

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


def test_second_core_adds_its_scaled_scores() -> None:
    train, features, _, _ = _topic_world()
    one = recommenders.create("hybrid", core="ease", l2=10.0).fit(train, item_features=features)
    two = recommenders.create(
        "hybrid", core="ease", l2=10.0, core2="itemknn", core2_weight=0.5, knn_neighbours=15
    )
    two.fit(train, item_features=features)
    assert isinstance(two, HybridRecommender) and two.core2_scale > 0
    knn = recommenders.create("hybrid", core="itemknn", knn_neighbours=15, content_weight=0.0)
    knn.fit(train, item_features=features)
    users = np.arange(10)
    expected = one._score(users) + 0.5 * two.core2_scale * knn._score(users)
    np.testing.assert_allclose(two._score(users), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="core2"):
        recommenders.create("hybrid", core="ease", core2="ease")


@pytest.mark.parametrize("core", ["itemknn", "itemknn-bm25"])
def test_knn_cores_place_cold_items_by_content(core: str) -> None:
    train, features, cold, positives = _topic_world()
    model = recommenders.create("hybrid", core=core, knn_neighbours=20, neighbours=10).fit(
        train, item_features=features
    )
    assert _cold_precision(model, cold, positives) > 0.8


@pytest.mark.parametrize(("core", "similarity"), [("itemknn", "cosine"), ("itemknn-bm25", "bm25")])
def test_knn_core_without_content_scores_warm_items_as_itemknn(core: str, similarity: str) -> None:
    train, features, cold, _ = _topic_world()
    hybrid = recommenders.create("hybrid", core=core, knn_neighbours=15, content_weight=0.0, shrinkage=0.0)
    hybrid.fit(train, item_features=features)
    knn = recommenders.create("itemknn", similarity=similarity, neighbours=15).fit(train)
    warm = np.setdiff1d(np.arange(train.n_items), cold)
    users = np.arange(20)
    np.testing.assert_allclose(
        hybrid._score(users)[:, warm], knn._score(users)[:, warm], rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("shrinkage", [0.0, 5.0])
def test_core_cache_reuses_the_fitted_core(shrinkage: float) -> None:
    """Shrinkage 0 borrows only for items without events; 5 borrows for every item (the cached
    all-rows path): either way a fit through the cache scores exactly as a fresh one."""
    train, features, _, _ = _topic_world()
    cache: dict[tuple[object, ...], object] = {}
    first = recommenders.create(
        "hybrid", core="itemknn", knn_neighbours=15, content_weight=0.0, shrinkage=shrinkage
    )
    assert isinstance(first, HybridRecommender)
    first.core_cache = cache
    first.fit(train, item_features=features)
    assert ("itemknn", 15) in cache
    core = cache[("itemknn", 15)]
    # The borrowed representations are kept too (shrinkage 0: the rows of the items without
    # events, a catalogue-wide sparse × dense product per row that cost seconds per trial).
    borrowed = {k: v for k, v in cache.items() if k[0] == "borrowed"}
    assert len(borrowed) == 1
    second = recommenders.create(
        "hybrid", core="itemknn", knn_neighbours=15, content_weight=0.3, shrinkage=shrinkage
    )
    assert isinstance(second, HybridRecommender)
    second.core_cache = cache
    second.fit(train, item_features=features)
    assert cache[("itemknn", 15)] is core  # reused, not refitted
    assert all(cache[k] is v for k, v in borrowed.items())  # and not borrowed again
    fresh = recommenders.create(
        "hybrid", core="itemknn", knn_neighbours=15, content_weight=0.3, shrinkage=shrinkage
    )
    fresh.fit(train, item_features=features)
    users = np.arange(10)
    np.testing.assert_array_equal(second._score(users), fresh._score(users))


def test_unknown_core_is_refused() -> None:
    with pytest.raises(ValueError, match="core must be one of"):
        recommenders.create("hybrid", core="lightgcn")


@pytest.mark.parametrize("core2", ["", "itemknn-bm25", "als"])
def test_borrowing_at_scoring_time_scores_as_the_blended_model(core2: str) -> None:
    """The tuner's shortcut (kernel applied to the user's scores, not to items² representations)
    changes no score; a model fitted so refuses to be saved or to give item vectors."""
    train, features, _, _ = _topic_world()
    opts = {"core": "ease", "l2": 10.0, "shrinkage": 5.0, "neighbours": 5, "content_weight": 0.1}
    if core2:
        opts |= {"core2": core2, "core2_weight": 0.5, "knn_neighbours": 10}
    blended = recommenders.create("hybrid", **opts).fit(train, item_features=features)
    lazy = recommenders.create("hybrid", **opts)
    assert isinstance(lazy, HybridRecommender)
    lazy.borrow_at_score = True
    lazy.fit(train, item_features=features)
    assert lazy._lazy_keep is not None  # the shortcut was taken: the check below is not vacuous
    users = np.arange(train.n_users)
    np.testing.assert_allclose(lazy._score(users), blended._score(users), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="borrow_at_score"):
        lazy.item_vectors()

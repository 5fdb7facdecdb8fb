"""Content, hybrid and EASE: the shared contract, plus cold items placed by their features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.interactions import Interactions, from_indices
from mediarec.recommenders import Recommender
from mediarec.recommenders.hybrid import content_kernel
from mediarec.recommenders.repository import save, scrub_user
from tests.recommenders.recommender_base import RecommenderContract, community_features


class TestEASE(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("ease", l2=10.0)


class TestContent(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("content")

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridEASE(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="ease", l2=10.0, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridALS(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="als", factors=8, iterations=10, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridLinearBorrow(RecommenderContract):
    """The big-catalogue configuration (ALS core, ridge map from content) on the shared contract."""

    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="als", borrow="linear", factors=8, iterations=10)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


# -- cold items --------------------------------------------------------------------------------

N_USERS, N_TOPICS, PER_TOPIC, DIM = 120, 6, 20, 16


def _topic_world(seed: int = 0) -> tuple[Interactions, np.ndarray, np.ndarray, np.ndarray]:
    """Users each love one topic; items carry a noisy topic vector. A quarter of every topic's items
    get no training events (cold) but do get features. Returns (train, features, cold items,
    (user, cold item) positives: the cold items of the user's topic)."""
    rng = np.random.default_rng(seed)
    n_items = N_TOPICS * PER_TOPIC
    topic = np.repeat(np.arange(N_TOPICS), PER_TOPIC)
    directions = rng.standard_normal((N_TOPICS, DIM))
    features = (directions[topic] + 0.6 * rng.standard_normal((n_items, DIM))).astype(np.float32)
    cold = np.concatenate([np.flatnonzero(topic == t)[: PER_TOPIC // 4] for t in range(N_TOPICS)])
    warm = np.setdiff1d(np.arange(n_items), cold)
    user_topic = rng.integers(0, N_TOPICS, N_USERS)
    rows, cols = [], []
    for u in range(N_USERS):
        own = warm[topic[warm] == user_topic[u]]
        picked = rng.choice(own, size=6, replace=False)
        rows += [u] * 6
        cols += picked.tolist()
    r, c = np.asarray(rows), np.asarray(cols)
    train = from_indices(
        r, c, np.ones(len(r)), [f"u{i}" for i in range(N_USERS)], [f"i{i}" for i in range(n_items)]
    )
    positives = np.zeros((N_USERS, n_items), dtype=bool)
    for u in range(N_USERS):
        positives[u, cold[topic[cold] == user_topic[u]]] = True
    return train, features, cold, positives


def _cold_precision(model: Recommender, cold: np.ndarray, positives: np.ndarray, n: int = 5) -> float:
    ids, _ = model.recommend(np.arange(N_USERS), n=n, candidates=cold)
    return float(np.mean([positives[u, ids[u]].mean() for u in range(N_USERS)]))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("content", {}),
        ("hybrid", {"core": "ease", "l2": 10.0, "neighbours": 10}),
        ("hybrid", {"core": "als", "factors": 16, "iterations": 15, "neighbours": 10}),
        ("hybrid", {"core": "als", "borrow": "linear", "factors": 16, "iterations": 15}),
    ],
)
def test_cold_items_with_informative_features_rank_well(name: str, params: dict[str, object]) -> None:
    train, features, cold, positives = _topic_world()
    model = recommenders.create(name, **params).fit(train, item_features=features)
    # Random picks hit the user's topic 1 time in N_TOPICS.
    assert _cold_precision(model, cold, positives) > 0.8


def test_cold_items_rank_at_random_without_information() -> None:
    """The same world with features that say nothing about topics: no model can place cold items,
    so the test above measures the features, not a quirk of the protocol."""
    train, features, cold, positives = _topic_world()
    noise = np.random.default_rng(5).standard_normal(features.shape).astype(np.float32)
    model = recommenders.create("hybrid", l2=10.0, neighbours=10).fit(train, item_features=noise)
    assert _cold_precision(model, cold, positives) < 0.45


def test_cf_models_ignore_features_and_cold_items_get_no_cf_signal() -> None:
    train, features, cold, _ = _topic_world()
    plain = recommenders.create("ease", l2=10.0).fit(train)
    with_features = recommenders.create("ease", l2=10.0).fit(train, item_features=features)
    np.testing.assert_array_equal(plain.recommend([0, 1], n=10)[0], with_features.recommend([0, 1], n=10)[0])
    # EASE gives an item without training users zero weight: every cold item scores exactly 0.
    assert np.all(plain._score(np.arange(5))[:, cold] == 0)


def test_feature_models_need_features_of_the_right_shape() -> None:
    train, features, _, _ = _topic_world()
    with pytest.raises(ValueError, match="needs item_features"):
        recommenders.create("content").fit(train)
    with pytest.raises(ValueError, match="shape"):
        recommenders.create("content").fit(train, item_features=features[:-1])
    bad = features.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        recommenders.create("hybrid").fit(train, item_features=bad)


def test_hybrid_blends_own_and_borrowed_by_evidence() -> None:
    train, features, cold, _ = _topic_world()
    own_only = recommenders.create("hybrid", l2=10.0, shrinkage=0.0, content_weight=0.0)
    own_only.fit(train, item_features=features)
    ease = recommenders.create("ease", l2=10.0).fit(train)
    assert isinstance(own_only, recommenders.HybridRecommender)
    warm = np.setdiff1d(np.arange(train.n_items), cold)
    # Without shrinkage or content term, warm items score exactly as EASE does...
    np.testing.assert_allclose(
        own_only._score(np.arange(N_USERS))[:, warm], ease._score(np.arange(N_USERS))[:, warm], atol=1e-5
    )
    # ...while cold items, which EASE scores 0, get borrowed scores.
    assert np.abs(own_only._score(np.arange(N_USERS))[:, cold]).max() > 0


def test_content_kernel_rows() -> None:
    unit = np.eye(4, dtype=np.float32)
    unit[1] = unit[0]  # items 0 and 1 read alike
    unit[3] = 0.0  # item 3 has no content
    k = content_kernel(unit, np.array([True, True, True, False]), k=1, temperature=0.1).toarray()
    assert k[0, 1] == pytest.approx(1.0) and k[1, 0] == pytest.approx(1.0)  # never itself
    assert np.allclose(k[:3].sum(axis=1), 1.0) and k[3].sum() == 0.0
    assert np.all(k[:, 3] == 0)  # item 3 is not a source (no interactions)


def test_content_profile_is_recency_weighted() -> None:
    day = 86400.0
    features = np.eye(3, dtype=np.float32)
    # One user: item 0 long ago, item 1 today; item 2 is unseen and reads like neither.
    data = from_indices(
        np.array([0, 0]), np.array([0, 1]), np.ones(2), ["u"], ["a", "b", "c"], np.array([0.0, 100 * day])
    )
    flat = recommenders.create("content", center=False).fit(data, item_features=features)
    recent = recommenders.create("content", center=False, recency_half_life_days=10).fit(
        data, item_features=features
    )
    assert isinstance(flat, recommenders.ContentRecommender) and isinstance(
        recent, recommenders.ContentRecommender
    )
    assert flat.user_profiles[0, 0] == pytest.approx(flat.user_profiles[0, 1])
    assert recent.user_profiles[0, 1] > 100 * recent.user_profiles[0, 0]


def test_feature_models_persist_vectors_and_scrub_users(tmp_path: Path) -> None:
    train, features, _, _ = _topic_world()
    for name in ("content", "hybrid"):
        model = recommenders.create(name, l2=10.0) if name == "hybrid" else recommenders.create(name)
        model.fit(train, item_features=features)
        folder = save(model, tmp_path / "home")
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            assert data["model_item_unit"].shape == features.shape
    assert scrub_user(tmp_path / "home", "u3") == 2
    for name in ("content", "hybrid"):
        loaded = recommenders.repository.latest(tmp_path / "home", name)
        assert loaded is not None and "u3" not in set(loaded.user_ids)
        assert loaded.recommend([0], n=3)[0].shape == (1, 3)


def test_ease_refuses_catalogues_too_large_for_dense_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediarec.recommenders import ease

    train, features, _, _ = _topic_world()
    monkeypatch.setattr(ease, "MAX_ITEMS", train.n_items - 1)
    with pytest.raises(ValueError, match="core='als'"):
        recommenders.create("hybrid").fit(train, item_features=features)
    recommenders.create("hybrid", core="als", factors=4, iterations=2).fit(train, item_features=features)


def test_hybrid_defaults_follow_catalogue_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small catalogues get the EASE core and the kNN kernel; above the thresholds the ALS core and
    the linear map, which never build an items × items matrix (dense or kNN); the saved model
    keeps the resolved choice."""
    from mediarec.recommenders import hybrid

    train, features, cold, positives = _topic_world()
    small = recommenders.create("hybrid", l2=10.0).fit(train, item_features=features)
    assert (small.params.core, small.params.borrow) == ("ease", "knn")  # type: ignore[attr-defined]
    monkeypatch.setattr(hybrid, "AUTO_EASE_MAX_ITEMS", train.n_items - 1)
    monkeypatch.setattr(hybrid, "AUTO_KNN_MAX_ITEMS", train.n_items - 1)

    def no_items_squared(*args: object, **kw: object) -> None:
        raise AssertionError("an items x items structure was built above the threshold")

    monkeypatch.setattr(hybrid, "ease_weights", no_items_squared)
    monkeypatch.setattr(hybrid, "content_kernel", no_items_squared)
    big = recommenders.create("hybrid", factors=16, iterations=15).fit(train, item_features=features)
    assert (big.params.core, big.params.borrow) == ("als", "linear")  # type: ignore[attr-defined]
    assert _cold_precision(big, cold, positives) > 0.8


def test_ease_weights_by_cholesky_match_the_closed_form_across_blocks() -> None:
    """The Cholesky inverse (potri fills one triangle; it is mirrored 1,024 rows at a time) gives
    Steck's closed form B = I - P·diag(1/diag(P)) as the general inverse does, past one block."""
    import scipy.sparse as sp

    from mediarec.recommenders.ease import ease_weights

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((1500, 1100)) < 0.02).astype(np.float32))
    dense = x.astype(np.float64).toarray()
    p = np.linalg.inv(dense.T @ dense + 50.0 * np.eye(1100))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(ease_weights(x, 50.0, binary=True), expected, rtol=1e-5, atol=1e-7)

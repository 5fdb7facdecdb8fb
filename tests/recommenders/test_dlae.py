"""DLAE / EDLAE (Steck 2020): the shared contract, the closed forms, and the hybrid's DLAE core."""

from __future__ import annotations

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.interactions import Interactions
from mediarec.recommenders import Recommender
from mediarec.recommenders.dlae import dlae_weights
from mediarec.recommenders.ease import ease_weights
from tests.recommenders.recommender_base import RecommenderContract, community_data, community_features
from tests.recommenders.test_content_hybrid import _topic_world


class TestDLAE(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("dlae", dropout=0.5, l2=5.0)


class TestEDLAE(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("dlae", dropout=0.25, l2=5.0, emphasis=True)


class TestHybridDLAE(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="dlae", dropout=0.5, l2=5.0, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


def _gram(data: Interactions) -> np.ndarray:
    x = data.matrix.toarray().astype(np.float64)
    x[x != 0] = 1.0
    return x.T @ x


def test_dlae_is_the_dropout_ridge_solution_off_the_diagonal() -> None:
    """B = (G + Λ)⁻¹ G with Λ = p/(1-p)·diag(G) + λ, computed the slow way; the diagonal is zeroed
    (it only scores items a user already has)."""
    data = community_data()
    g = _gram(data)
    p, l2 = 0.4, 3.0
    penalty = p / (1 - p) * np.diag(g) + l2
    expected = np.linalg.solve(g + np.diag(penalty), g)
    np.fill_diagonal(expected, 0.0)
    got = dlae_weights(data.matrix, p, l2, emphasis=False)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(got, ease_weights(data.matrix, l2, binary=True), atol=1e-4)  # not EASE


def test_edlae_is_ease_with_the_dropout_penalty() -> None:
    """Without dropout EDLAE is EASE exactly; with it, EASE's form on G + Λ: each item's ridge
    grows with its popularity (a uniform ridge cannot reproduce it)."""
    data = community_data()
    np.testing.assert_allclose(
        dlae_weights(data.matrix, 0.0, 7.0, emphasis=True),
        ease_weights(data.matrix, 7.0, binary=True),
        rtol=1e-5,
        atol=1e-7,
    )
    g = _gram(data)
    p, l2 = 0.3, 7.0
    inv = np.linalg.inv(g + np.diag(p / (1 - p) * np.diag(g) + l2))
    expected = -inv / np.diag(inv)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(
        dlae_weights(data.matrix, p, l2, emphasis=True), expected, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_a_dropout_outside_zero_to_one_is_refused(dropout: float) -> None:
    with pytest.raises(ValueError, match="dropout"):
        recommenders.create("dlae", dropout=dropout)


def test_hybrid_dlae_core_without_content_scores_warm_items_as_dlae() -> None:
    train, features, cold, _ = _topic_world()
    hybrid = recommenders.create(
        "hybrid", core="dlae", dropout=0.5, l2=5.0, content_weight=0.0, shrinkage=0.0
    ).fit(train, item_features=features)
    plain = recommenders.create("dlae", dropout=0.5, l2=5.0).fit(train)
    warm = np.setdiff1d(np.arange(train.n_items), cold)
    users = np.arange(20)
    np.testing.assert_allclose(
        hybrid._score(users)[:, warm], plain._score(users)[:, warm], rtol=1e-5, atol=1e-5
    )
    # The core's knobs are part of the fitted core's cache key: another dropout is another core.
    other = recommenders.create("hybrid", core="dlae", dropout=0.25, l2=5.0, content_weight=0.0)
    other.fit(train, item_features=features)
    assert not np.allclose(other._score(users)[:, warm], plain._score(users)[:, warm], atol=1e-4)

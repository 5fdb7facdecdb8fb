"""GF-CF (Shen et al. 2021): the shared contract, the filter's closed form, and the hybrid's GF-CF core."""

from __future__ import annotations

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.interactions import Interactions
from mediarec.recommenders import Recommender
from mediarec.recommenders.gfcf import gfcf_weights
from tests.recommenders.recommender_base import RecommenderContract, community_data, community_features
from tests.recommenders.test_content_hybrid import _topic_world


class TestGFCF(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("gfcf", dims=4, ideal_weight=0.3)


class TestHybridGFCF(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create("hybrid", core="gfcf", gf_dims=4, neighbours=5)

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


class TestHybridDLAEWithGFCF(RecommenderContract):
    def make(self) -> Recommender:
        return recommenders.create(
            "hybrid", core="dlae", l2=5.0, core2="gfcf", gf_dims=4, gf_ideal_weight=1.0, core2_weight=0.5
        )

    def features(self, data: Interactions) -> np.ndarray:
        return community_features(data.n_items)


def _slow_gfcf(data: Interactions, k: int, alpha: float) -> np.ndarray:
    """The paper's filter the slow way: dense normalisation, full SVD, top-k right vectors."""
    x = data.matrix.toarray().astype(np.float64)
    x[x != 0] = 1.0
    du, di = x.sum(axis=1), x.sum(axis=0)
    du[du == 0], di[di == 0] = 1.0, 1.0
    norm = x / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    vt = np.linalg.svd(norm, full_matrices=False)[2][:k]
    ideal = np.diag(di**-0.5) @ vt.T @ vt @ np.diag(di**0.5)
    return norm.T @ norm + alpha * ideal


@pytest.mark.parametrize("k", [3, 20])  # ARPACK (2k < min side), the dense SVD otherwise
def test_gfcf_is_the_linear_plus_ideal_low_pass_filter(k: int) -> None:
    data = community_data()
    expected = _slow_gfcf(data, k, 0.3)
    np.testing.assert_allclose(gfcf_weights(data.matrix, k, 0.3), expected, rtol=1e-4, atol=1e-5)
    # The low-pass part is there: without it the filter is the linear one alone.
    linear = _slow_gfcf(data, k, 0.0)
    assert not np.allclose(gfcf_weights(data.matrix, k, 0.3), linear, atol=1e-3)
    np.testing.assert_allclose(gfcf_weights(data.matrix, k, 0.0), linear, rtol=1e-4, atol=1e-5)


def test_more_dims_than_the_data_has_are_capped_and_fits_repeat_exactly() -> None:
    data = community_data()
    capped = gfcf_weights(data.matrix, 500, 1.0)  # min side 30: 29 vectors at most
    np.testing.assert_allclose(capped, _slow_gfcf(data, 29, 1.0), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(gfcf_weights(data.matrix, 3, 1.0), gfcf_weights(data.matrix, 3, 1.0))


@pytest.mark.parametrize(("option", "value"), [("dims", 0), ("ideal_weight", -1.0)])
def test_bad_options_are_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        recommenders.create("gfcf", **{option: value})


def test_hybrid_gfcf_core_without_content_scores_warm_items_as_gfcf() -> None:
    train, features, cold, _ = _topic_world()
    hybrid = recommenders.create(
        "hybrid", core="gfcf", gf_dims=6, gf_ideal_weight=0.5, content_weight=0.0, shrinkage=0.0
    ).fit(train, item_features=features)
    plain = recommenders.create("gfcf", dims=6, ideal_weight=0.5).fit(train)
    warm = np.setdiff1d(np.arange(train.n_items), cold)
    users = np.arange(20)
    np.testing.assert_allclose(
        hybrid._score(users)[:, warm], plain._score(users)[:, warm], rtol=1e-4, atol=1e-5
    )
    # The filter's knobs are part of the cached core's key: other dims, another core.
    cache: dict[tuple[object, ...], object] = {}
    for dims in (6, 3):
        model = recommenders.create("hybrid", core="gfcf", gf_dims=dims, content_weight=0.0)
        model.core_cache = cache
        model.fit(train, item_features=features)
    assert len([k for k in cache if k[0] == "gfcf"]) == 2


def test_an_item_without_events_gets_no_score_not_rounding_noise() -> None:
    """Its singular-vector entries are rounding residues: they must not rank cold items."""
    data = community_data()
    x = data.matrix.tolil()
    x[:, :3] = 0  # three items nobody consumed
    weights = gfcf_weights(x.tocsr(), 5, 1.0)
    assert not weights[:, :3].any() and not weights[:3, :].any()
    assert np.abs(weights[3:, 3:]).max() > 0.01

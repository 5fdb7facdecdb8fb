"""Content-based recommender: a user is the weighted mean of their items' feature vectors, and an
item scores by cosine with that profile. It needs no interactions on the item it ranks, so it can
rank cold items (features, no events) from the first minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender


@dataclass(frozen=True)
class ContentParams(Params):
    # Subtract the catalogue's mean vector before normalising. Sentence embeddings share a large
    # common direction (all movie descriptions look alike to MiniLM), which squeezes every cosine
    # into a narrow band; centring spreads them and lets the topical part decide.
    center: bool = True
    use_weights: bool = False  # False: each of the user's items counts once; True: by event weight
    recency_half_life_days: float = 0.0  # >0: an item the user met this long before their latest counts half


class ContentRecommender(Recommender):
    name = "content"
    params_cls = ContentParams
    params: ContentParams
    uses_item_features = True
    user_arrays = ("user_profiles",)

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.item_unit = np.zeros((0, 0), dtype=np.float32)
        self.user_profiles = np.zeros((0, 0), dtype=np.float32)

    def _fit(self, interactions: Interactions) -> None:
        assert self.fit_features is not None
        self.item_unit = unit_item_vectors(self.fit_features, self.params.center)
        weights = profile_weights(interactions, self.params.use_weights, self.params.recency_half_life_days)
        self.user_profiles = _unit_rows(np.asarray(weights @ self.item_unit, dtype=np.float32))

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_profiles[users] @ self.item_unit.T, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_unit

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_unit": self.item_unit, "user_profiles": self.user_profiles}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_unit = arrays["item_unit"]
        self.user_profiles = arrays["user_profiles"]


def unit_item_vectors(features: np.ndarray, center: bool) -> np.ndarray:
    """Rows L2-normalised, optionally after subtracting the mean of the items that have features.
    Items without features (all-zero rows) stay zero: cosine 0 with everything."""
    f = np.asarray(features, dtype=np.float32)
    present = np.any(f != 0, axis=1)
    if center and present.any():
        f = f - f[present].mean(axis=0, keepdims=True)
        f[~present] = 0.0
    return _unit_rows(f)


def profile_weights(interactions: Interactions, use_weights: bool, half_life_days: float) -> sp.csr_matrix:
    """Users × items weights of each item in the user's profile, each row summing to 1."""
    m = interactions.matrix.tocsr().astype(np.float64)
    w = m.data.copy() if use_weights else np.ones(m.nnz)
    last = interactions.last_seen
    if half_life_days > 0 and last is not None and last.nnz == m.nnz:
        last = last.tocsr()
        times = np.asarray(last.data, dtype=np.float64)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(last.indptr))
        newest = np.full(m.shape[0], -np.inf)
        np.maximum.at(newest, rows, times)
        age_days = (newest[rows] - times) / 86400.0
        # last_seen shares the matrix's sparsity but may order entries differently within a row.
        if np.array_equal(last.indptr, m.indptr) and np.array_equal(last.indices, m.indices):
            w = w * np.exp2(-age_days / half_life_days)
    out = sp.csr_matrix((w, m.indices, m.indptr), shape=m.shape)
    sums = np.asarray(out.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return (sp.diags(1.0 / sums) @ out).tocsr()


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)

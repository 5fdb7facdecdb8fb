"""Popularity with exponential time decay: recent engagement counts more than old engagement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender


@dataclass(frozen=True)
class PopularityParams(Params):
    half_life_days: float = 30.0  # an event this old weighs half a fresh one; 0 turns decay off
    use_weights: bool = False  # False counts users per item; True sums their event weights


class PopularityRecommender(Recommender):
    name = "popularity"
    params_cls = PopularityParams
    params: PopularityParams

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.item_scores = np.zeros(0, dtype=np.float32)
        self.reference_time = 0.0

    def _fit(self, interactions: Interactions) -> None:
        m = interactions.matrix.tocsr()
        weights = m.data.astype(np.float64) if self.params.use_weights else np.ones(m.nnz)
        times = _aligned_times(interactions)
        if self.params.half_life_days > 0 and times is not None and times.size:
            self.reference_time = float(times.max())
            age_days = (self.reference_time - times) / 86400.0
            weights = weights * np.exp2(-age_days / self.params.half_life_days)
        self.item_scores = np.bincount(m.indices, weights=weights, minlength=interactions.n_items).astype(
            np.float32
        )

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(users), self.n_items)).copy()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores, "reference_time": np.asarray(self.reference_time)}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_scores = arrays["item_scores"]
        self.reference_time = float(arrays["reference_time"])


def _aligned_times(interactions: Interactions) -> np.ndarray | None:
    """Last-event times in the matrix's own CSR order, or None when times are unknown."""
    seen, m = interactions.last_seen, interactions.matrix
    if seen is None or seen.nnz != m.nnz:
        return None
    if not (np.array_equal(seen.indptr, m.indptr) and np.array_equal(seen.indices, m.indices)):
        return None
    return np.asarray(seen.data, dtype=np.float64)

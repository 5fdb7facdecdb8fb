"""Fold-in: a user's collaborative scores from their events in the store *now*, without retraining.

ALS: the user's half of an ALS step, the regularised least-squares solve against the frozen item
factors (Hu, Koren and Volinsky 2008; the same system implicit's ``recalculate_user`` solves):
``(YᵀY + λI + Yᵀ(Cᵤ − I)Y) xᵤ = YᵀCᵤpᵤ`` with confidence ``Cᵤ = alpha · weight``.
Item-kNN: the live history row times the item-item similarity matrix, which is what the model
itself computes from its training row. Other models score from their trained row when the user's
events have not changed since training, and cannot fold in new events otherwise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from mediarec.recommenders import Recommender

_CACHE_USERS = 50_000  # folded vectors kept (a 64-factor vector is 256 bytes)


@dataclass(frozen=True)
class FoldedScores:
    scores: np.ndarray  # float32 over the model's items
    folded: bool  # True when computed from live events rather than the trained row


def als_fold_in(
    item_factors: np.ndarray,
    yty: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    regularization: float,
    alpha: float,
) -> np.ndarray:
    """The least-squares user vector for positive ``items`` with summed event ``weights``."""
    factors = item_factors.shape[1]
    if not len(items):
        return np.zeros(factors, dtype=np.float32)
    y = item_factors[items].astype(np.float64)
    confidence = alpha * np.asarray(weights, dtype=np.float64)
    a = yty + regularization * np.eye(factors) + (y.T * (confidence - 1.0)) @ y
    b = y.T @ confidence
    return np.linalg.solve(a, b).astype(np.float32)


def _same_row(seen: sp.csr_matrix, row: int, items: np.ndarray, weights: np.ndarray) -> bool:
    """Whether the live history equals the training row (read straight from the CSR arrays: a
    scipy row slice costs more than the whole comparison)."""
    start, end = int(seen.indptr[row]), int(seen.indptr[row + 1])
    if end - start != len(items):
        return False
    order = np.argsort(items)
    return bool(
        np.array_equal(seen.indices[start:end], items[order])
        and np.allclose(seen.data[start:end], weights[order], rtol=1e-4, atol=1e-6)
    )


class FoldIn:
    """Scores for one model; folded ALS vectors are cached per user under the history's stamp."""

    def __init__(self, model: Recommender) -> None:
        self.model = model
        factors = getattr(model, "item_factors", None)
        params = model.params
        self._als = (
            model.name == "als"
            and isinstance(factors, np.ndarray)
            and factors.ndim == 2
            and hasattr(params, "regularization")
            and hasattr(params, "alpha")
        )
        self._yty = None
        if self._als and isinstance(factors, np.ndarray):
            self._yty = factors.astype(np.float64).T @ factors.astype(np.float64)
        self._cache: OrderedDict[str, tuple[tuple[int, int], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def vector_supported(self) -> bool:
        """Whether :meth:`vector` gives user factors (ALS)."""
        return self._als

    @property
    def supported(self) -> bool:
        return self._als or isinstance(getattr(self.model, "similarity", None), sp.spmatrix | sp.sparray)

    def scores(
        self, user: str, row: int | None, items: np.ndarray, weights: np.ndarray, stamp: tuple[int, int]
    ) -> FoldedScores | None:
        """``items`` are model positions of the user's positive events, ``weights`` their sums."""
        model = self.model
        assert model.seen is not None
        if row is not None and _same_row(model.seen, row, items, weights):
            return FoldedScores(np.asarray(model._score(np.asarray([row]))[0], dtype=np.float32), False)
        if not len(items):
            return None
        if self._als:
            vector = self._folded(user, items, weights, stamp)
            scores = model.item_factors @ vector  # type: ignore[attr-defined]
            return FoldedScores(np.asarray(scores, dtype=np.float32), True)
        similarity = getattr(model, "similarity", None)
        if isinstance(similarity, sp.spmatrix | sp.sparray):
            live = sp.csr_matrix(
                (weights.astype(np.float32), (np.zeros(len(items), dtype=np.int64), items)),
                shape=(1, model.n_items),
            )
            return FoldedScores(np.asarray((live @ similarity).todense(), dtype=np.float32).ravel(), True)
        if row is not None:  # the trained row is stale, but it is the best this model can do
            return FoldedScores(np.asarray(model._score(np.asarray([row]))[0], dtype=np.float32), False)
        return None

    def vector(
        self, user: str, row: int | None, items: np.ndarray, weights: np.ndarray, stamp: tuple[int, int]
    ) -> tuple[np.ndarray, bool] | None:
        """ALS only: the user's factors and whether they were folded in, on the same rule as
        :meth:`scores` (whose scores are ``item_factors @ vector``); None for other models, or
        without a row and without positive items."""
        model = self.model
        if not self._als:
            return None
        assert model.seen is not None
        if row is not None and _same_row(model.seen, row, items, weights):
            return np.asarray(model.user_factors[row], dtype=np.float32), False  # type: ignore[attr-defined]
        if not len(items):
            return None
        return self._folded(user, items, weights, stamp), True

    def _folded(
        self, user: str, items: np.ndarray, weights: np.ndarray, stamp: tuple[int, int]
    ) -> np.ndarray:
        vector = self._cached(user, stamp)
        if vector is None:
            p: Any = self.model.params
            factors: np.ndarray = self.model.item_factors  # type: ignore[attr-defined]
            assert self._yty is not None
            vector = als_fold_in(factors, self._yty, items, weights, p.regularization, p.alpha)
            self._remember(user, stamp, vector)
        return vector

    def _cached(self, user: str, stamp: tuple[int, int]) -> np.ndarray | None:
        with self._lock:
            hit = self._cache.get(user)
            if hit is None or hit[0] != stamp:
                return None
            self._cache.move_to_end(user)
            return hit[1]

    def _remember(self, user: str, stamp: tuple[int, int], vector: np.ndarray) -> None:
        with self._lock:
            self._cache[user] = (stamp, vector)
            self._cache.move_to_end(user)
            while len(self._cache) > _CACHE_USERS:
                self._cache.popitem(last=False)

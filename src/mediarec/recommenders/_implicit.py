"""Shared glue for the matrix-factorisation models that train through ``implicit`` (ALS, BPR)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Recommender


class FactorModel(Recommender):
    """Scores are dot products of user and item factors; subclasses build the implicit model."""

    user_arrays = ("user_factors",)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        self.item_factors = np.zeros((0, 0), dtype=np.float32)

    @abstractmethod
    def _implicit_model(self) -> Any:
        """The configured, unfitted implicit model."""

    def _fit(self, interactions: Interactions) -> None:
        import implicit.cpu.als  # noqa: F401 - loads implicit's BLAS before the limit below applies
        from threadpoolctl import threadpool_limits

        # implicit's own threads do the work; a multi-threaded BLAS underneath only oversubscribes
        # the cores (implicit warns about exactly this), so BLAS is held to one thread meanwhile.
        with threadpool_limits(limits=1, user_api="blas"):
            model = self._implicit_model()
            model.fit(interactions.matrix, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_factors[users] @ self.item_factors.T, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]

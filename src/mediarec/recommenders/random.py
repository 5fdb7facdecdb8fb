"""Uniformly random ranking: the floor every other model must clear."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender


@dataclass(frozen=True)
class RandomParams(Params):
    seed: int = 42  # the same seed gives the same ranking for the same user rows


class RandomRecommender(Recommender):
    name = "random"
    params_cls = RandomParams
    params: RandomParams

    def _fit(self, interactions: Interactions) -> None:
        pass

    def _score(self, users: np.ndarray) -> np.ndarray:
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for k, u in enumerate(users):
            out[k] = np.random.default_rng((self.params.seed, int(u))).random(self.n_items, dtype=np.float32)
        return out

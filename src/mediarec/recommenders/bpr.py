"""Bayesian personalised ranking (Rendle et al. 2009) with SGD, trained by implicit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediarec.recommenders._implicit import FactorModel
from mediarec.recommenders.base import Params


@dataclass(frozen=True)
class BPRParams(Params):
    factors: int = 64  # implicit adds one column for the item bias
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100
    seed: int = 42
    threads: int = 0  # 0 = all cores


class BPRRecommender(FactorModel):
    name = "bpr"
    params_cls = BPRParams
    params: BPRParams

    def _implicit_model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(
            factors=p.factors,
            learning_rate=p.learning_rate,
            regularization=p.regularization,
            iterations=p.iterations,
            random_state=p.seed,
            num_threads=p.threads,
        )

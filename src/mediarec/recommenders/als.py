"""Alternating least squares for implicit feedback (Hu, Koren and Volinsky 2008), trained by implicit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediarec.recommenders._implicit import FactorModel
from mediarec.recommenders.base import Params


@dataclass(frozen=True)
class ALSParams(Params):
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0  # confidence = 1 + alpha * weight
    iterations: int = 15
    seed: int = 42
    threads: int = 0  # 0 = all cores


class ALSRecommender(FactorModel):
    name = "als"
    params_cls = ALSParams
    params: ALSParams

    def _implicit_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=p.alpha,
            iterations=p.iterations,
            random_state=p.seed,
            num_threads=p.threads,
            calculate_training_loss=False,
        )

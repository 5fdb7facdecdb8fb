"""Freshness boost: a new item gets a bonus on its blended score that halves every half-life.

The bonus is additive on the [0, weights] blended scale, so ``boost`` 0.05 lifts a brand-new item
past anything scoring up to 0.05 less, and an item one half-life old by half that.
"""

from __future__ import annotations

import numpy as np

DAY = 86400.0


def freshness_bonus(created: np.ndarray, now: float, boost: float, half_life_days: float) -> np.ndarray:
    if boost <= 0:
        return np.zeros(len(created))
    age = np.maximum(now - np.asarray(created, dtype=np.float64), 0.0) / DAY
    if half_life_days <= 0:
        return np.full(len(created), boost)
    return boost * np.exp2(-age / half_life_days)

"""ε-exploration: give new, little-seen items a few slots so they can collect feedback at all.

Each slot after the first is handed, with probability ε, to an item drawn uniformly from the pool
of allowed new items; at most ``ceil(ε · n)`` slots per list. The generator is seeded by (seed,
user), so the same request returns the same list and a test can reproduce it.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np


def explore_rng(seed: int, user: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{user}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def explore_slots(
    ranked: list[int], pool: np.ndarray, n: int, epsilon: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """(slot, pool position) pairs: which list slots go to which new items; slot 0 never does."""
    if epsilon <= 0 or n < 2 or not len(pool):
        return []
    limit = math.ceil(epsilon * n)
    candidates = [int(p) for p in pool if int(p) not in set(ranked)]
    slots = [s for s in range(1, n) if rng.random() < epsilon][:limit]
    if not slots or not candidates:
        return []
    chosen = rng.choice(len(candidates), size=min(len(slots), len(candidates)), replace=False)
    return [(slot, candidates[int(c)]) for slot, c in zip(slots, chosen, strict=False)]

"""ε-exploration: seeded, bounded, and never in the first slot."""

from __future__ import annotations

import math

import numpy as np

from mediarec.rank.explore import explore_rng, explore_slots

RANKED = list(range(10))
POOL = np.arange(100, 140)


def test_same_seed_and_user_give_the_same_slots() -> None:
    a = explore_slots(RANKED, POOL, 10, 0.3, explore_rng(42, "u1"))
    b = explore_slots(RANKED, POOL, 10, 0.3, explore_rng(42, "u1"))
    assert a == b and a
    others = {tuple(explore_slots(RANKED, POOL, 10, 0.3, explore_rng(s, "u1"))) for s in range(20)}
    assert len(others) > 1


def test_slots_are_bounded_and_skip_the_top() -> None:
    for seed in range(200):
        slots = explore_slots(RANKED, POOL, 10, 0.2, explore_rng(seed, "u"))
        assert len(slots) <= math.ceil(0.2 * 10)
        assert all(1 <= s < 10 for s, _ in slots)
        assert all(p in POOL and p not in RANKED for _, p in slots)
        assert len({p for _, p in slots}) == len(slots)


def test_rate_is_about_epsilon() -> None:
    total = sum(len(explore_slots(RANKED, POOL, 10, 0.05, explore_rng(s, "u"))) for s in range(2000))
    # At most ceil(0.05 × 10) = 1 slot per list: P(any of the 9 draws hits) = 1 − 0.95⁹ ≈ 0.37.
    assert 0.32 < total / 2000 < 0.42


def test_nothing_to_explore() -> None:
    assert explore_slots(RANKED, POOL, 10, 0.0, explore_rng(1, "u")) == []
    assert explore_slots(RANKED, np.asarray([], dtype=np.int64), 10, 1.0, explore_rng(1, "u")) == []
    assert explore_slots(RANKED, np.asarray(RANKED), 10, 1.0, explore_rng(1, "u")) == []

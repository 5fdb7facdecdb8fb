"""Fold-in against implicit's own user solve, and against the trained factors."""

from __future__ import annotations

import numpy as np

from mediarec import recommenders
from mediarec.interactions import from_indices
from mediarec.rank.foldin import FoldIn, als_fold_in


def _fitted() -> recommenders.ALSRecommender:
    rng = np.random.default_rng(0)
    users, items = 300, 120
    rows = rng.integers(0, users, 4000)
    cols = (rows % 6) * 20 + rng.integers(0, 20, 4000)  # six blocks of taste
    data = from_indices(
        rows,
        cols,
        rng.uniform(0.5, 3.0, 4000),
        [f"u{i}" for i in range(users)],
        [f"i{i}" for i in range(items)],
    )
    model = recommenders.create(
        "als", factors=8, iterations=20, alpha=2.0, regularization=0.1, seed=1, threads=1
    )
    assert isinstance(model, recommenders.ALSRecommender)
    return model.fit(data)  # type: ignore[return-value]


def test_matches_implicit_recalculate_user() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    model = _fitted()
    ref = AlternatingLeastSquares(factors=8, regularization=0.1, alpha=2.0, random_state=1)
    ref.user_factors, ref.item_factors = model.user_factors.copy(), model.item_factors.copy()
    assert model.seen is not None
    row = model.seen[5]
    expected = ref.recalculate_user(0, row)
    y = model.item_factors.astype(np.float64)
    got = als_fold_in(model.item_factors, y.T @ y, row.indices, row.data, 0.1, 2.0)
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-4)


def test_unchanged_history_uses_trained_row_and_new_events_fold_in() -> None:
    model = _fitted()
    fold = FoldIn(model)
    assert model.seen is not None and fold.supported
    row = model.seen[7]
    same = fold.scores("u7", 7, row.indices.astype(np.int64), row.data, (1, 1))
    assert same is not None and not same.folded
    np.testing.assert_allclose(same.scores, model.user_factors[7] @ model.item_factors.T, rtol=1e-5)
    # One more item from another block: the folded scores move towards that block.
    items = np.append(row.indices, 100).astype(np.int64)
    weights = np.append(row.data, 3.0).astype(np.float32)
    moved = fold.scores("u7", 7, items, weights, (2, 9))
    assert moved is not None and moved.folded
    block = slice(100, 120)
    assert moved.scores[block].mean() > same.scores[block].mean()
    # A folded vector for a training user stays close to the trained one.
    again = fold.scores("u7-copy", None, row.indices.astype(np.int64), row.data, (1, 1))
    assert again is not None and again.folded
    cos = again.scores @ same.scores / np.linalg.norm(again.scores) / np.linalg.norm(same.scores)
    assert cos > 0.9


def test_cache_is_keyed_by_the_history_stamp() -> None:
    model = _fitted()
    fold = FoldIn(model)
    a = fold.scores("new", None, np.asarray([1, 2]), np.asarray([1.0, 1.0], np.float32), (2, 10))
    b = fold.scores("new", None, np.asarray([1, 2, 110]), np.asarray([1.0, 1.0, 3.0], np.float32), (3, 11))
    assert a is not None and b is not None and not np.allclose(a.scores, b.scores)

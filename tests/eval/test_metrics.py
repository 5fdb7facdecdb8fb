from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from mediarec.eval import (
    MetricOptions,
    all_metrics,
    coverage,
    default_item_vectors,
    hit_rate_at_k,
    hits,
    intra_list_diversity,
    item_popularity,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
)


def positives(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, its in enumerate(rows) for _ in its]
    c = [i for its in rows for i in its]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


def test_single_user_worked_example() -> None:
    # Test items {1, 3}; the list [3, 0, 1] hits at ranks 1 and 3.
    top = np.array([[3, 0, 1]])
    test = positives([[1, 3]], 5)
    assert recall_at_k(top, test) == pytest.approx(1.0)
    assert ndcg_at_k(top, test) == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert map_at_k(top, test) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert hit_rate_at_k(top, test) == pytest.approx(1.0)
    assert mrr_at_k(top, test) == pytest.approx(1.0)


def test_several_users_padding_and_users_without_test_items() -> None:
    top = np.array(
        [
            [3, 0, 1],  # test {1, 3}: hits at 1 and 3
            [0, 2, 4],  # test {4}: hit at 3
            [1, 2, -1],  # no test items: left out of every average
            [2, -1, -1],  # test {0..4}: 5 relevant > K, one hit at 1, padding never hits
            [0, 1, 3],  # test {2}: no hit
        ]
    )
    test = positives([[1, 3], [4], [], [0, 1, 2, 3, 4], [2]], 5)
    idcg2 = 1 + 1 / math.log2(3)
    idcg3 = idcg2 + 1 / math.log2(4)
    recall = [1.0, 1.0, 1 / 5, 0.0]
    ndcg = [(1 + 1 / math.log2(4)) / idcg2, (1 / math.log2(4)) / 1.0, 1 / idcg3, 0.0]
    ap = [(1 + 2 / 3) / 2, (1 / 3) / 1, 1 / 3, 0.0]  # last: normalised by min(5, K=3) = 3
    hit = [1.0, 1.0, 1.0, 0.0]
    rr = [1.0, 1 / 3, 1.0, 0.0]
    assert recall_at_k(top, test) == pytest.approx(np.mean(recall))
    assert ndcg_at_k(top, test) == pytest.approx(np.mean(ndcg))
    assert map_at_k(top, test) == pytest.approx(np.mean(ap))
    assert hit_rate_at_k(top, test) == pytest.approx(np.mean(hit))
    assert mrr_at_k(top, test) == pytest.approx(np.mean(rr))
    assert hits(top, test).tolist()[3] == [True, False, False]


def test_perfect_ranking_scores_one_and_values_are_binary() -> None:
    top = np.array([[2, 0, 4, 1]])
    test = positives([[0, 2, 4]], 6)
    test.data[:] = [5.0, 0.5, 3.0]  # confidence values are not graded gains
    for metric in (recall_at_k, ndcg_at_k, map_at_k, hit_rate_at_k, mrr_at_k):
        assert metric(top, test) == pytest.approx(1.0), metric.__name__


def test_explicit_zeros_are_not_relevant() -> None:
    test = sp.csr_matrix((np.array([1.0, 0.0]), np.array([1, 2]), np.array([0, 2])), shape=(1, 4))
    top = np.array([[2, 1]])
    assert recall_at_k(top, test) == pytest.approx(1.0)  # one relevant item (1), found
    assert mrr_at_k(top, test) == pytest.approx(0.5)


def test_no_test_users_gives_nan_and_shape_mismatch_raises() -> None:
    top = np.array([[0, 1]])
    assert math.isnan(recall_at_k(top, positives([[]], 3)))
    with pytest.raises(ValueError, match="rows"):
        recall_at_k(top, positives([[0], [1]], 3))


def test_coverage() -> None:
    top = np.array([[0, 1, -1], [1, 2, -1]])
    assert coverage(top, 10) == pytest.approx(3 / 10)


def test_popularity_and_novelty() -> None:
    # 4 training users: item 0 has 3 users, item 1 has 1, item 2 none.
    train = positives([[0], [0, 1], [0], []], 3)
    p = item_popularity(train)
    assert p == pytest.approx([4 / 5, 2 / 5, 1 / 5])
    top = np.array([[0, 1], [2, -1]])
    expected = np.mean([-math.log2(4 / 5), -math.log2(2 / 5), -math.log2(1 / 5)])
    assert novelty(top, p) == pytest.approx(expected)
    assert math.isnan(novelty(np.full((2, 2), -1), p))


def test_intra_list_diversity_by_hand() -> None:
    s = 1 / math.sqrt(2)
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [s, s], [0.0, 0.0]])
    top = np.array(
        [
            [0, 1, 2],  # pairs: 1 - 0, 1 - s, 1 - s
            [0, 0, -1],  # the same item twice: distance 0
            [3, 0, -1],  # a zero vector has cosine 0 with everything: distance 1
            [1, -1, -1],  # a single item has no pairs: left out
        ]
    )
    first = (1 + 2 * (1 - s)) / 3
    assert intra_list_diversity(top, vectors) == pytest.approx(np.mean([first, 0.0, 1.0]))


def test_default_item_vectors_follow_shared_users() -> None:
    # Items 0 and 1 have the same users, item 2 other users, item 3 none.
    train = positives([[0, 1], [0, 1], [2], [2, 0, 1], [2], []], 4)
    v = default_item_vectors(train)
    assert v.shape[0] == 4
    norms = np.linalg.norm(v, axis=1)
    assert norms[:3] == pytest.approx([1, 1, 1], abs=1e-5)
    assert norms[3] == 0
    assert float(v[0] @ v[1]) == pytest.approx(1.0, abs=1e-5)
    assert float(v[0] @ v[2]) < float(v[0] @ v[1])
    assert intra_list_diversity(np.array([[0, 1]]), v) == pytest.approx(0.0, abs=1e-5)


def test_default_item_vectors_dims_and_tiny_fallback() -> None:
    rng = np.random.default_rng(0)
    train = sp.random(200, 150, density=0.05, format="csr", random_state=rng)
    assert default_item_vectors(train).shape == (150, 64)
    assert default_item_vectors(train, MetricOptions(svd_dims=8)).shape == (150, 8)
    # Deterministic: the solver's start vector is seeded.
    assert np.array_equal(default_item_vectors(train), default_item_vectors(train))
    one_user = positives([[0, 2]], 3)
    v = default_item_vectors(one_user)
    assert v.shape == (3, 1)
    assert np.linalg.norm(v, axis=1).tolist() == pytest.approx([1, 0, 1])


def test_all_metrics_keys_and_ranges() -> None:
    rng = np.random.default_rng(1)
    test = positives([list(rng.choice(30, 4, replace=False)) for _ in range(20)], 30)
    train = positives([list(rng.choice(30, 6, replace=False)) for _ in range(20)], 30)
    top = np.stack([rng.choice(30, 10, replace=False) for _ in range(20)])
    m = all_metrics(top, test, item_popularity(train), default_item_vectors(train))
    assert list(m) == ["recall", "ndcg", "map", "hit_rate", "mrr", "coverage", "novelty", "ild"]
    for key in ("recall", "ndcg", "map", "hit_rate", "mrr", "coverage"):
        assert 0.0 <= m[key] <= 1.0
    assert m["novelty"] > 0
    assert 0.0 <= m["ild"] <= 2.0
    assert m["ndcg"] <= m["hit_rate"]
    singles = (recall_at_k, ndcg_at_k, map_at_k, hit_rate_at_k, mrr_at_k)
    for key, metric in zip(("recall", "ndcg", "map", "hit_rate", "mrr"), singles, strict=True):
        assert m[key] == pytest.approx(metric(top, test)), key

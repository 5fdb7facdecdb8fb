"""MMR and caps on synthetic clusters, where the right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mediarec.rank.diversity import Caps, intra_list_diversity, mmr


def _clusters() -> tuple[np.ndarray, np.ndarray, list[str], list[tuple[str, ...]]]:
    """30 items in 3 tight clusters; cluster 0 is the most relevant, then 1, then 2."""
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8)
    vectors, relevance, creators = [], [], []
    topics: list[tuple[str, ...]] = []
    for c in range(3):
        for k in range(10):
            v = centres[c] + rng.normal(0, 0.05, 8)
            vectors.append(v / np.linalg.norm(v))
            relevance.append(1.0 - 0.3 * c - 0.01 * k)
            creators.append(f"creator-{c}")
            topics.append((f"topic-{c}", "shared") if k % 2 else (f"topic-{c}",))
    return np.asarray(relevance), np.asarray(vectors, dtype=np.float32), creators, topics


def test_lambda_one_is_relevance_order() -> None:
    rel, vec, _, _ = _clusters()
    picked, values = mmr(rel, vec, 10, 1.0)
    assert picked == list(np.argsort(-rel, kind="stable")[:10])
    assert values == sorted(values, reverse=True)


def test_lower_lambda_raises_intra_list_diversity() -> None:
    rel, vec, _, _ = _clusters()
    ild = {}
    for lam in (1.0, 0.7, 0.3):
        picked, values = mmr(rel, vec, 9, lam)
        assert values == sorted(values, reverse=True), "MMR values must not rise along the list"
        ild[lam] = intra_list_diversity(vec[picked])
    assert ild[1.0] < 0.05  # all from the top cluster
    assert ild[0.3] > ild[1.0] + 0.4  # spread over the clusters
    assert ild[0.7] >= ild[1.0]


def test_caps_hold_even_if_the_list_comes_out_short() -> None:
    rel, vec, creators, topics = _clusters()
    picked, _ = mmr(rel, vec, 9, 1.0, creators, topics, Caps(max_per_creator=2))
    assert len(picked) == 6  # three creators, two each
    assert max(np.unique([creators[k] for k in picked], return_counts=True)[1]) == 2
    picked, _ = mmr(rel, vec, 9, 1.0, creators, topics, Caps(max_per_topic=3))
    counts: dict[str, int] = {}
    for k in picked:
        for t in topics[k]:
            counts[t] = counts.get(t, 0) + 1
    assert max(counts.values()) <= 3 and counts["shared"] == 3


def test_without_vectors_mmr_keeps_relevance_order() -> None:
    rel = np.asarray([0.2, 0.9, 0.5])
    assert mmr(rel, None, 3, 0.5)[0] == [1, 2, 0]


@pytest.mark.parametrize("k", [0, 1])
def test_ild_of_short_lists_is_zero(k: int) -> None:
    assert intra_list_diversity(np.ones((k, 3), dtype=np.float32)) == 0.0


def test_ild_of_orthogonal_items_is_one() -> None:
    assert math.isclose(intra_list_diversity(np.eye(4, dtype=np.float32)), 1.0)

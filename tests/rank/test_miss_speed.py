"""The miss path's faster steps (issue 11, fifth pass) give exactly what the steps they replaced gave.

Each reference below is the previous implementation, kept here verbatim as the definition: MMR
recomputing its objective on every step, the content source's per-item argmax, the interest
sources' walk per reason and the per-item tag slices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mediarec.rank.blend import normalise
from mediarec.rank.candidates import content_source, top_allowed
from mediarec.rank.diversity import Caps, mmr
from mediarec.rank.explain import Interests, user_interests
from mediarec.rank.history import load_history
from tests.rank.conftest import make_engine


def mmr_reference(
    relevance: np.ndarray,
    vectors: np.ndarray | None,
    n: int,
    lam: float,
    creators: Sequence[str | None],
    topics: Sequence[Sequence[str]],
    caps: Caps,
) -> tuple[list[int], list[float]]:
    m = len(relevance)
    rel = normalise(relevance)
    max_sim = np.zeros(m)
    available = np.ones(m, dtype=bool)
    by_creator: Counter[str] = Counter()
    by_topic: Counter[str] = Counter()
    picked: list[int] = []
    values: list[float] = []
    while len(picked) < n and available.any():
        objective = lam * rel - (1.0 - lam) * max_sim
        objective[~available] = -np.inf
        k = int(np.argmax(objective))
        available[k] = False
        creator = creators[k] if creators else None
        item_topics = topics[k] if topics else ()
        if caps.max_per_creator and creator is not None and by_creator[creator] >= caps.max_per_creator:
            continue
        if caps.max_per_topic and any(by_topic[t] >= caps.max_per_topic for t in item_topics):
            continue
        picked.append(k)
        values.append(float(objective[k]))
        if creator is not None:
            by_creator[creator] += 1
        by_topic.update(item_topics)
        if vectors is not None and lam < 1.0:
            max_sim = np.maximum(max_sim, vectors @ vectors[k])
    return picked, values


@pytest.mark.parametrize("seed", range(12))
def test_mmr_equals_recomputing_every_step(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 120))
    rel = rng.normal(size=m)
    rel[rng.random(m) < 0.1] = rel[0]  # ties
    vec = rng.normal(size=(m, 6)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    creators = [None if rng.random() < 0.2 else f"c{rng.integers(4)}" for _ in range(m)]
    topics = [
        tuple(f"t{t}" for t in rng.choice(5, size=int(rng.integers(0, 3)), replace=False)) for _ in range(m)
    ]
    for lam in (0.0, 0.3, 0.7, 1.0):
        for caps in (Caps(), Caps(2, 0), Caps(0, 3), Caps(1, 2)):
            for vectors in (vec, None):
                want = mmr_reference(rel, vectors, 10, lam, creators, topics, caps)
                assert mmr(rel, vectors, 10, lam, creators, topics, caps) == want


def content_reference(
    vectors: np.ndarray, has: np.ndarray, recent: np.ndarray, allowed: np.ndarray, n: int
) -> tuple[list[int], list[float], dict[int, int]]:
    seeds = recent[has[recent]]
    sims = vectors @ vectors[seeds].T
    best = sims.argmax(axis=1)
    score = sims[np.arange(len(sims)), best]
    score[~has] = -np.inf
    pos, sc = top_allowed(score, allowed, n)
    keep = sc > 0
    pos, sc = pos[keep], sc[keep]
    return pos.tolist(), sc.tolist(), {int(p): int(seeds[best[p]]) for p in pos}


@pytest.mark.parametrize("seed", range(8))
def test_content_source_equals_the_per_item_argmax(seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = int(rng.integers(5, 400))
    vectors = rng.normal(size=(items, 16)).astype(np.float32)
    vectors[rng.random(items) < 0.05] = 0.0
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    has = rng.random(items) < 0.9
    recent = rng.choice(items, size=min(items, int(rng.integers(1, 25))), replace=False)
    allowed = rng.random(items) < 0.8
    got = content_source(vectors, has, recent, allowed, 50, "text")
    want = content_reference(vectors, has, recent, allowed, 50)
    assert (got.positions.tolist(), got.scores.tolist(), got.anchors) == want


def test_interest_sources_and_tags_equal_the_walk_per_reason(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "home")
    catalog = engine._ranker.catalogs.get(engine.store)
    users = sorted({str(u) for u in engine.store.event_columns().users})[:20]
    checked = 0
    for user in users:
        history = load_history(engine.store, user, catalog, engine.weights)
        interests = user_interests(catalog, history)
        # The tags, as the per-item slices summed them.
        engaged = history.weights >= 0.5
        items, weights = history.items[engaged], history.weights[engaged]
        slices = [catalog.tag_index[catalog.tag_indptr[i] : catalog.tag_indptr[i + 1]] for i in items]
        ids = np.concatenate(slices) if slices else np.zeros(0, dtype=np.int64)
        w = np.repeat(weights.astype(np.float64), [len(s) for s in slices])
        summed = np.bincount(ids, weights=w, minlength=len(catalog.tag_names)) * catalog.tag_rarity
        assert interests.weights == {
            catalog.tag_names[k]: float(summed[k]) for k in np.flatnonzero(summed > 0)
        }
        # Sources, asked in a scattered order as reasons ask them, against a fresh walk each time.
        tags = [*interests.weights, "no-such-tag"]
        for tag in tags[::-1] + tags:
            for limit in (0, 1, 3):
                want = [p for p in interests.recent if any(t.tag == tag for t in catalog.tags[p])]
                want = want if limit <= 0 else want[:limit]
                assert interests.sources(catalog, tag, limit) == want
                checked += 1
        fresh = Interests(interests.weights, interests.recent)
        assert fresh == interests  # the walk is a cache, not part of the value
    assert checked > 100
    engine.close()

"""Maximal marginal relevance (Carbonell and Goldstein 1998) with per-creator and per-topic caps.

Each pick maximises ``λ · relevance − (1 − λ) · max cosine to the items already picked``, relevance
min-max normalised over the pool. The MMR value of the item picked at each step never rises from
one step to the next (relevance is fixed and the max similarity only grows), so it serves as the
list's score, best first. Caps are hard: an item that would exceed one is passed over, even if the
list then comes out shorter than asked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mediarec.rank.blend import normalise


@dataclass(frozen=True)
class Caps:
    max_per_creator: int = 0  # 0 = no cap
    max_per_topic: int = 0


def mmr(
    relevance: np.ndarray,
    vectors: np.ndarray | None,
    n: int,
    lam: float,
    creators: Sequence[str | None] = (),
    topics: Sequence[Sequence[str]] = (),
    caps: Caps = Caps(),  # a frozen dataclass: safe to share as a default
) -> tuple[list[int], list[float]]:
    """Indices into the pool (``relevance``'s order) in pick order, and their MMR values.

    ``vectors`` are unit rows aligned with ``relevance`` (zero rows for items without one); None
    means no similarity is known, and MMR reduces to relevance order under the caps.
    """
    m = len(relevance)
    rel = normalise(relevance)
    max_sim = np.zeros(m)
    available = np.ones(m, dtype=bool)
    by_creator: Counter[str] = Counter()
    by_topic: Counter[str] = Counter()
    picked: list[int] = []
    values: list[float] = []
    # The objective is recomputed only when max_sim moves (after a pick with vectors); an item
    # taken or passed over by a cap is just set to -inf, which is what recomputing it would give.
    objective: np.ndarray | None = None
    while len(picked) < n and available.any():
        if objective is None:
            objective = lam * rel - (1.0 - lam) * max_sim
            objective[~available] = -np.inf
        k = int(np.argmax(objective))
        value = float(objective[k])
        available[k] = False
        objective[k] = -np.inf
        creator = creators[k] if creators else None
        item_topics = topics[k] if topics else ()
        if caps.max_per_creator and creator is not None and by_creator[creator] >= caps.max_per_creator:
            continue
        if caps.max_per_topic and any(by_topic[t] >= caps.max_per_topic for t in item_topics):
            continue
        picked.append(k)
        values.append(value)
        if creator is not None:
            by_creator[creator] += 1
        by_topic.update(item_topics)
        if vectors is not None and lam < 1.0:
            max_sim = np.maximum(max_sim, vectors @ vectors[k])
            objective = None
    return picked, values


def intra_list_diversity(vectors: np.ndarray) -> float:
    """Mean pairwise (1 − cosine) of a list's unit vectors; 0 for fewer than two items."""
    k = len(vectors)
    if k < 2:
        return 0.0
    sims = vectors @ vectors.T
    return float((k * (k - 1) - (sims.sum() - np.trace(sims))) / (k * (k - 1)))

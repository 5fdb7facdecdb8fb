"""Diversity in the evaluation: a model's list re-ranked by MMR at several λ, scored like any model.

Each user's top ``pool`` items (by the model's own scores) are re-ranked with the ranking layer's
:func:`mediarec.rank.diversity.mmr` over the same unit item vectors the intra-list diversity metric
uses, so a row ``als+mmr0.5`` shows exactly what the serving knob (``rank_mmr_lambda``,
``--diversity``) trades: accuracy for intra-list diversity.
"""

from __future__ import annotations

import numpy as np

from mediarec.rank.diversity import mmr

POOL_FACTOR = 5  # re-rank the top pool_factor × K of each user, as the ranker does with its candidates


def mmr_rerank(
    pool_ids: np.ndarray, pool_scores: np.ndarray, item_vectors: np.ndarray, k: int, lam: float
) -> np.ndarray:
    """(users × k) item ids: each row of ``pool_ids`` (−1 padded) re-ranked by MMR with λ = ``lam``."""
    out = np.full((len(pool_ids), k), -1, dtype=np.int64)
    for u, (ids, scores) in enumerate(zip(pool_ids, pool_scores, strict=True)):
        keep = ids >= 0
        ids, scores = ids[keep], np.asarray(scores[keep], dtype=np.float64)
        if not len(ids):
            continue
        picked, _ = mmr(scores, item_vectors[ids], min(k, len(ids)), lam)
        out[u, : len(picked)] = ids[picked]
    return out

"""Blending: each source's scores min-max normalised to [0, 1], then a weighted sum per item.

Normalising per source keeps the weights meaningful whatever scale a source scores on (ALS dot
products, cosines, decayed counts). An item several sources propose collects from each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mediarec.rank.candidates import Source


@dataclass(frozen=True)
class Blend:
    positions: np.ndarray  # int64 catalogue positions, in no particular order
    scores: np.ndarray  # float64 blended scores aligned with ``positions``
    parts: dict[str, np.ndarray]  # source -> weighted, normalised contribution per position


def normalise(scores: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a source whose candidates all score alike gives each of them 1."""
    s = np.asarray(scores, dtype=np.float64)
    if not len(s):
        return s
    low, high = float(s.min()), float(s.max())
    if high - low <= 1e-12:
        return np.ones_like(s)
    return (s - low) / (high - low)


def blend(sources: Sequence[Source], weights: Mapping[str, float]) -> Blend:
    active = [s for s in sources if len(s.positions) and weights.get(s.name, 0.0) > 0]
    if not active:
        empty = np.zeros(0, dtype=np.int64)
        return Blend(empty, np.zeros(0), {})
    positions = np.unique(np.concatenate([s.positions for s in active]))
    parts: dict[str, np.ndarray] = {}
    total = np.zeros(len(positions))
    for s in active:
        part = np.zeros(len(positions))
        part[np.searchsorted(positions, s.positions)] = weights[s.name] * normalise(s.scores)
        parts[s.name] = parts.get(s.name, np.zeros(len(positions))) + part
        total += part
    return Blend(positions, total, parts)

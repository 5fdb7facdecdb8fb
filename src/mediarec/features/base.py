"""Item vectors keyed by external id, and their alignment with a matrix's item axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ItemVectors:
    """One float32 row per item id; ``source`` says where the vectors came from (model, version)."""

    item_ids: np.ndarray  # str, (n,)
    vectors: np.ndarray  # float32, (n, dim)
    source: str

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.item_ids) != self.vectors.shape[0]:
            raise ValueError(f"{len(self.item_ids)} item ids for vectors of shape {self.vectors.shape}")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def align(vectors: ItemVectors, item_ids: np.ndarray) -> np.ndarray:
    """A dense (len(item_ids), dim) float32 matrix in the order of ``item_ids``; items without a
    vector get a row of zeros, which content models treat as "nothing known" (they score 0)."""
    out = np.zeros((len(item_ids), vectors.dim), dtype=np.float32)
    if not len(vectors.item_ids) or not len(item_ids):
        return out
    pos = {str(i): n for n, i in enumerate(vectors.item_ids)}
    rows = np.array([pos.get(str(i), -1) for i in item_ids], dtype=np.int64)
    have = rows >= 0
    out[have] = vectors.vectors[rows[have]]
    return out

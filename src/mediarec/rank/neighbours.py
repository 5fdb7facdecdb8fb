"""Nearest neighbours over unit item vectors: exact below a catalogue size, an HNSW index above.

A request that looks for items near a few seed items must not multiply every item vector: at a
million 384-d items that is ~0.4 GFLOP per seed batch and a full sort. Above :data:`EXACT_MAX_ITEMS`
vectors the catalogue gets a usearch HNSW index (cosine, int8-quantised), built once per catalogue
snapshot or model view; its candidates are then re-scored with the float vectors, so the cosines
a request sees (and quotes in reasons) are exact, only the candidate set is approximate. Below the
threshold one matrix product is faster than the index and exact, so small catalogues keep it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# Up to this many vectors, a dense product per query batch is cheap (20,000 × 384 floats is
# ~8 M multiply-adds per seed; ~15 ms for 20 seeds) and exact; above it the index is built. Measured by
# bench/bench_scale.py (docs/benchmarks.md, "Scale: synthetic catalogue").
EXACT_MAX_ITEMS = 20_000
# HNSW settings: graph degree, and the beam widths while adding and searching. The search beam
# is widened to the number of neighbours asked for when that is larger.
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 128
# Candidates fetched from the int8 index per neighbour asked for, before exact re-scoring.
OVERFETCH = 2
# One index build at a time per process: each takes seconds to minutes and every core.
BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Neighbours:
    """Per query row: catalogue positions best first (-1 pads) and their exact cosines (-inf pads)."""

    positions: np.ndarray  # int64 (queries, k)
    scores: np.ndarray  # float32 (queries, k)


class VectorIndex:
    """Cosine neighbours among the rows of ``vectors`` (unit rows) where ``present`` is true."""

    def __init__(
        self,
        vectors: np.ndarray,
        present: np.ndarray,
        exact_max: int = EXACT_MAX_ITEMS,
        threads: int = 0,
    ) -> None:
        self.vectors = vectors
        self.present = np.asarray(present, dtype=bool)
        self.keys = np.flatnonzero(self.present).astype(np.int64)
        self.threads = threads
        self._index = None
        if len(self.keys) > exact_max:
            from usearch.index import Index

            index = Index(
                ndim=vectors.shape[1],
                metric="cos",
                dtype="i8",
                connectivity=CONNECTIVITY,
                expansion_add=EXPANSION_ADD,
                expansion_search=EXPANSION_SEARCH,
            )
            index.add(self.keys, np.ascontiguousarray(vectors[self.keys], dtype=np.float32), threads=threads)
            self._index = index

    @property
    def exact(self) -> bool:
        """True when searches scan every vector (small catalogues)."""
        return self._index is None

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        """The ``k`` nearest present rows to each query row by cosine, best first."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = max(0, min(int(k), len(self.keys)))
        positions = np.full((len(q), k), -1, dtype=np.int64)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        if k == 0 or not len(q):
            return Neighbours(positions, scores)
        if self._index is None:
            sims = q @ self.vectors.T
            sims[:, ~self.present] = -np.inf
            cand = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else None
            if cand is None:
                cand = np.tile(np.arange(sims.shape[1]), (len(q), 1))
        else:
            fetch = min(len(self.keys), k * OVERFETCH)
            # The beam must be at least as wide as the list asked for. Concurrent requests share the
            # index, so one may search with another's width (both at least EXPANSION_SEARCH): recall
            # moves slightly, the results stay true neighbours with exact cosines.
            setattr(self._index, "expansion_search", max(EXPANSION_SEARCH, fetch))  # noqa: B010 - typed read-only
            found = self._index.search(q, fetch, threads=self.threads)
            keys = np.asarray(found.keys, dtype=np.int64).reshape(len(q), -1)
            # One query gives Matches (valid keys only), several give BatchMatches (padded, counted).
            counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
            valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
            cand = np.where(valid, keys, -1)
        # Exact cosines for the candidates (the index compares int8 codes), then best first.
        exact = np.einsum("qd,qkd->qk", q, self.vectors[np.maximum(cand, 0)])
        exact = np.where(cand >= 0, exact, -np.inf).astype(np.float32)
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        chosen = np.take_along_axis(cand, order, axis=1)
        chosen_scores = np.take_along_axis(exact, order, axis=1)
        ok = np.isfinite(chosen_scores)
        positions[:, : order.shape[1]] = np.where(ok, chosen, -1)
        scores[:, : order.shape[1]] = np.where(ok, chosen_scores, -np.inf)
        return Neighbours(positions, scores)

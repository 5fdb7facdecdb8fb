"""Nearest neighbours over unit item vectors: exact below a catalogue size, an HNSW index above.

A request that looks for items near a few seed items must not multiply every item vector: at a
million 384-d items that is ~0.4 GFLOP per seed batch and a full sort. Above :data:`EXACT_MAX_ITEMS`
vectors the catalogue gets a usearch HNSW index (cosine, int8-quantised), built once per catalogue
snapshot or model view; its candidates are then re-scored with the float vectors, so the cosines
a request sees (and quotes in reasons) are exact, only the candidate set is approximate. Below the
threshold one matrix product is faster than the index and exact, so small catalogues keep it.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.rank import prefetch

log = logging.getLogger(__name__)

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
# A request's batch of seed queries is searched on the calling thread, whatever ``threads`` builds
# with. Spread over every core (usearch ``threads=0``) a search needs a second core as well: at 1 M
# items on a busy 2-core box the slowest requests spent 80-88 ms in it with 8-13 ms of their own CPU,
# waiting for the worker thread; on a quiet box the split saved ~2.5 ms of a 10 ms search
# (docs/benchmarks.md, "The tail at full size, session 6"). The tail matters more than those 2.5 ms.
SEARCH_THREADS = 1


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
        self.threads = threads  # for building; searches use SEARCH_THREADS
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

    @classmethod
    def saved(cls, vectors: np.ndarray, present: np.ndarray, path: Path, threads: int = 0) -> VectorIndex:
        """The index of these vectors, memory-mapped from ``path`` when a process saved it there
        for the same catalogue snapshot (``path`` names the snapshot), else built and saved there.
        Building takes minutes at a million vectors, so each serving process of a home (and each
        restart) would otherwise pay it before its first request."""
        present = np.asarray(present, dtype=bool)
        keys = np.flatnonzero(present)
        if len(keys) <= EXACT_MAX_ITEMS:
            return cls(vectors, present, exact_max=EXACT_MAX_ITEMS)
        index = _open(path, vectors, keys)
        if index is not None:
            made = cls(vectors, present, exact_max=len(keys))  # exact: nothing built
            made._index = index
            return made
        made = cls(vectors, present, exact_max=EXACT_MAX_ITEMS, threads=threads)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            assert made._index is not None
            made._index.save(str(tmp))
            os.replace(tmp, path)
            for old in path.parent.glob(f"{path.name.split('-')[0]}-*.usearch"):
                if old != path:  # an older snapshot's (a process mapping it keeps its pages)
                    old.unlink(missing_ok=True)
        except OSError as err:
            log.warning("content index not saved in %s: %s", path.parent, err)
        return made

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
            found = self._index.search(q, fetch, threads=SEARCH_THREADS)
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


def _open(path: Path, vectors: np.ndarray, keys: np.ndarray) -> Any:
    """The saved index at ``path`` if it holds exactly ``keys`` with these vectors (a sample of
    them is compared), else None."""
    if not path.is_file():
        return None
    from usearch.index import Index

    try:
        index = Index.restore(str(path), view=True)
    except Exception as err:  # a damaged or foreign file is rebuilt, not fatal
        log.warning("content index %s unreadable (%s); rebuilding", path, err)
        return None
    if index is None or index.ndim != vectors.shape[1] or len(index) != len(keys):
        return None
    sample = keys[np.random.default_rng(0).choice(len(keys), min(32, len(keys)), replace=False)]
    if not all(k in index for k in sample.tolist()):
        return None
    stored = np.asarray(index.get(sample), dtype=np.float32).reshape(len(sample), -1)
    norms = np.linalg.norm(stored, axis=1) * np.linalg.norm(vectors[sample], axis=1)
    cos = (stored * vectors[sample]).sum(axis=1) / np.maximum(norms, 1e-12)
    if not bool((cos > 0.98).all()):  # int8 codes of the same unit vectors agree to ~0.999
        return None
    # Beam width and threads of this process, not of the one that saved it.
    setattr(index, "expansion_search", EXPANSION_SEARCH)  # noqa: B010
    # Mapped, not read: its pages come from disk on first touch, in the searches of the first
    # requests, unless read into the page cache beforehand (rank/prefetch.py says why).
    prefetch.warm(path)
    return index


class LazyIndex:
    """A :class:`VectorIndex` wanted by some requests only (the model-space neighbours of users
    whose items have no content vectors): exact at once when small; when big, mapped from ``path``
    if a process saved it there, else built on one background thread (a request that built it
    waited 156 s at a million items) and saved there. None until ready: callers take the exact
    product meanwhile."""

    def __init__(self, vectors: np.ndarray, present: np.ndarray, path: Path) -> None:
        self._vectors, self._present, self._path = vectors, np.asarray(present, dtype=bool), path
        self._lock = threading.Lock()
        self._ready: VectorIndex | None = None
        self._started = False

    @property
    def building(self) -> bool:
        """A build started and not finished (callers search exactly meanwhile)."""
        with self._lock:
            return self._started and self._ready is None

    def get(self) -> VectorIndex | None:
        with self._lock:
            if self._ready is not None or self._started:
                return self._ready
            self._started = True
        keys = np.flatnonzero(self._present)
        if len(keys) <= EXACT_MAX_ITEMS:
            made = VectorIndex(self._vectors, self._present, exact_max=EXACT_MAX_ITEMS)
        else:
            opened = _open(self._path, self._vectors, keys)
            if opened is None:
                threading.Thread(target=self._build, name="mediarec-model-index", daemon=True).start()
                return None
            made = VectorIndex(self._vectors, self._present, exact_max=len(keys))
            made._index = opened
        with self._lock:
            self._ready = made
        return made

    def _build(self) -> None:
        built = VectorIndex.saved(self._vectors, self._present, self._path, threads=1)
        with self._lock:
            self._ready = built

"""CF candidates of a big catalogue from an inner-product index over the ALS item factors.

Exact CF candidates multiply the user's vector with every item's factors and partition the result:
at a million items that is 256 MB of factors read and a 1M-element partition per request (about
half of a 45 ms request at 1 M items, docs/benchmarks.md). Above :data:`MIN_ITEMS` model items the
ALS item factors get a usearch HNSW index over their raw inner products, float32 (ALS factors are
not unit vectors, so the int8 codes of the content index would distort them). Measured on a
synthetic catalogue's ALS (20,000 items, norms from 0.007 to 1.1), the raw inner-product graph found
every one of the exact top 10 and 91% of the top 200 (graph degree 32; 77% at degree 16, for the
same build time); the usual reduction to cosine search (one more coordinate ``sqrt(M² − |v|²)``
per row) found 79% of the top 10, as most rows then point almost the same way. A request asks it
for more neighbours
than it needs, drops the ones its filters forbid and re-scores the rest exactly, so every score it
shows is the model's own; only the candidate set is approximate (recall against the exact product
is measured by ``bench/bench_scale.py --stages cf-recall`` and tested on small data).

The index is built once per trained version, by ``train`` (saved as :data:`FILE` in the version's
folder, memory-mapped when served), or, for a version saved without it, on a background thread of
the serving process while requests keep the exact product.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mediarec.rank import prefetch
from mediarec.rank.candidates import Source

log = logging.getLogger(__name__)

# Below this many model items the exact product costs a few milliseconds and needs no build.
MIN_ITEMS = 200_000
FILE = "cf_index.usearch"
CONNECTIVITY = 32
EXPANSION_ADD = 64
# Search beam; widened to the number of neighbours asked for when that is larger.
EXPANSION_SEARCH = 256
# A request first asks for (candidates + its seen items) x FETCH_FACTOR neighbours, then four
# times as many while its filters leave too few; past MAX_FETCH it falls back to the exact product.
FETCH_FACTOR = 1.25
MAX_FETCH = 8_192
# Items whose factors are all (near) zero score ~0 for everyone; they only clutter the graph.
MIN_NORM = 1e-6


@dataclass(frozen=True)
class FactorHits:
    positions: np.ndarray  # int64 model positions, best first
    scores: np.ndarray  # float32 exact inner products


class FactorIndex:
    """Maximum-inner-product neighbours among the rows of ``factors``."""

    def __init__(self, factors: np.ndarray, index: object, indexed: int) -> None:
        self.factors = factors
        self._index = index
        self.indexed = indexed  # rows in the graph (rows of zero norm are left out)

    @classmethod
    def build(cls, factors: np.ndarray, threads: int = 0) -> FactorIndex:
        from usearch.index import Index

        index = Index(
            ndim=factors.shape[1],
            metric="ip",
            dtype="f32",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        keys = np.flatnonzero(np.linalg.norm(factors, axis=1) > MIN_NORM).astype(np.int64)
        if len(keys):
            index.add(keys, np.ascontiguousarray(factors[keys], dtype=np.float32), threads=threads)
        return cls(factors, index, len(keys))

    @classmethod
    def open(cls, path: Path, factors: np.ndarray) -> FactorIndex | None:
        """The saved index of these factors, memory-mapped; None when absent or not theirs."""
        if not path.is_file():
            return None
        from usearch.index import Index

        try:
            index = Index.restore(str(path), view=True)
        except Exception as err:  # a damaged file is rebuilt, not fatal
            log.warning("CF index %s unreadable (%s); rebuilding", path, err)
            return None
        if index is None or index.ndim != factors.shape[1] or len(index) > len(factors):
            return None
        expected = int(np.count_nonzero(np.linalg.norm(factors, axis=1) > MIN_NORM))
        if len(index) != expected:
            return None
        prefetch.warm(path)  # mapped pages read ahead of the searches (rank/prefetch.py)
        return cls(factors, index, len(index))

    def save(self, path: Path) -> None:
        """Written beside the model's arrays; atomic, so a reader never maps half a file."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        self._index.save(str(tmp))  # type: ignore[attr-defined]
        os.replace(tmp, path)

    def search(self, vector: np.ndarray, k: int) -> FactorHits:
        """Up to ``k`` rows with the largest inner product with ``vector``, best first, scored
        exactly (the graph is approximate; the scores are not)."""
        k = max(0, min(int(k), self.indexed))
        if k == 0:
            return FactorHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        q = np.asarray(vector, dtype=np.float32)
        # Shared by concurrent requests: one may search with another's (wider) beam; the recall
        # moves slightly, the scores stay exact.
        setattr(self._index, "expansion_search", max(EXPANSION_SEARCH, k))  # noqa: B010
        found = self._index.search(q, k)  # type: ignore[attr-defined]
        keys = np.asarray(found.keys, dtype=np.int64).reshape(-1)
        keys = keys[(keys >= 0) & (keys < len(self.factors))]
        scores = (self.factors[keys] @ q).astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        return FactorHits(keys[order], scores[order])


def wants_index(factors: object) -> bool:
    return isinstance(factors, np.ndarray) and factors.ndim == 2 and len(factors) >= MIN_ITEMS


def save_for(folder: Path, model: object, threads: int = 0) -> Path | None:
    """Build and save the index of a trained ALS version's item factors (big catalogues only), so
    that serving processes map it instead of building it."""
    factors = getattr(model, "item_factors", None)
    if getattr(model, "name", "") != "als" or not isinstance(factors, np.ndarray) or not wants_index(factors):
        return None
    path = Path(folder) / FILE
    FactorIndex.build(factors, threads).save(path)
    return path


class LazyFactorIndex:
    """The index of one served version: opened from its folder when saved there, else built once
    on a background thread (and saved for the next process); None until it is ready."""

    def __init__(self, folder: Path, factors: np.ndarray) -> None:
        self._folder, self._factors = Path(folder), factors
        self._lock = threading.Lock()
        self._ready: FactorIndex | None = None
        self._started = False

    @property
    def building(self) -> bool:
        """A build started and not finished (requests take the exact product meanwhile)."""
        with self._lock:
            return self._started and self._ready is None

    def get(self) -> FactorIndex | None:
        with self._lock:
            if self._ready is not None or self._started:
                return self._ready
            self._started = True
        found = FactorIndex.open(self._folder / FILE, self._factors)
        if found is not None:
            with self._lock:
                self._ready = found
            return found
        threading.Thread(target=self._build, name="mediarec-cf-index", daemon=True).start()
        return None

    def _build(self) -> None:
        # One thread: the serving process keeps the other core for requests meanwhile.
        built = FactorIndex.build(self._factors, threads=1)
        try:
            built.save(self._folder / FILE)
        except OSError as err:  # a read-only models folder: keep it in memory only
            log.warning("CF index not saved in %s: %s", self._folder, err)
        with self._lock:
            self._ready = built


@dataclass(frozen=True)
class IndexedCF:
    """A user's CF scores, left unexpanded: the candidates come from the index."""

    index: FactorIndex
    vector: np.ndarray  # the user's factors (trained row or folded in)
    cat_of_model: np.ndarray  # model position -> catalogue position, -1 for items gone

    def source(self, allowed: np.ndarray, n: int, skip: int) -> Source | None:
        """The ``n`` best allowed items, as :func:`~mediarec.rank.candidates.cf_source` would pick
        them from the full product (up to the index's recall); None when the index cannot deliver
        ``n`` allowed items (a narrow filter), and the caller takes the exact product instead.
        ``skip``: how many items the filters are expected to drop (the user's seen items)."""
        fetch = int((n + skip) * FETCH_FACTOR) + 16
        while True:
            hits = self.index.search(self.vector, fetch)
            cat = self.cat_of_model[hits.positions]
            ok = cat >= 0
            ok[ok] &= allowed[cat[ok]]
            if int(ok.sum()) >= n:
                return Source("cf", cat[ok][:n].astype(np.int64), hits.scores[ok][:n])
            if fetch >= min(MAX_FETCH, self.index.indexed):
                return None
            fetch = min(fetch * 4, MAX_FETCH)

    def full(self, n_cat: int) -> np.ndarray:
        """Every catalogue position's exact score (-inf where the model lacks the item)."""
        scores = np.full(n_cat, -np.inf, dtype=np.float32)
        ok = self.cat_of_model >= 0
        scores[self.cat_of_model[ok]] = (self.index.factors @ self.vector)[ok]
        return scores

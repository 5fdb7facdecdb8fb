"""Candidate sources. Each returns at most ``n`` allowed catalogue positions with raw scores.

- ``cf``: the collaborative model's scores (trained or folded-in user vector);
- ``content``: nearest items to the user's recent positives over item vectors (content vectors
  when the catalogue has them, else the model's item vectors), with the recent item that drew each;
- ``trending``: popularity over the recent window, each event decayed by its age;
- ``fresh``: the newest uploads, newest first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mediarec.rank.catalog import Catalog
    from mediarec.rank.neighbours import VectorIndex
    from mediarec.store import Store

DAY = 86400.0
# Trending is recomputed at most this often, in the background: aggregating the window reads every
# event in it (a second or more on ML-1M), and a minute of lag does not change what is trending.
TRENDING_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class Source:
    name: str
    positions: np.ndarray  # int64 catalogue positions
    scores: np.ndarray  # float32 raw scores, best first
    anchors: dict[int, int] = field(default_factory=dict)  # position -> history position (content)
    space: str = ""  # which vectors the content source compared


def top_allowed(scores: np.ndarray, allowed: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``n`` best finite scores among allowed positions, best first."""
    s = np.where(allowed, scores, -np.inf)
    if n <= 0 or not len(s):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    # One partial partition over the whole array (no full sort, no index array of every finite
    # score); the few non-finite ones it may return are dropped after.
    part = np.argpartition(-s, n - 1)[:n] if len(s) > n else np.arange(len(s))
    part = part[np.isfinite(s[part])]
    order = part[np.argsort(-s[part], kind="stable")]
    return order.astype(np.int64), s[order].astype(np.float32)


def first_allowed(order: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` allowed positions of ``order`` (best first), reading it in chunks so that a
    long ranked list costs about as much as the part of it that is needed."""
    out: list[np.ndarray] = []
    got, start, chunk = 0, 0, max(4 * n, 256)
    while start < len(order) and got < n:
        part = order[start : start + chunk]
        part = part[allowed[part]]
        out.append(part)
        got += len(part)
        start += chunk
    return np.concatenate(out)[:n].astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def cf_source(scores: np.ndarray, allowed: np.ndarray, n: int) -> Source:
    pos, sc = top_allowed(scores, allowed, n)
    return Source("cf", pos, sc)


def content_source(
    vectors: np.ndarray,
    has: np.ndarray,
    recent: np.ndarray,
    allowed: np.ndarray,
    n: int,
    space: str,
    index: VectorIndex | None = None,
) -> Source:
    """``vectors`` are unit rows; an item's score is its best cosine to any recent item.

    With an approximate ``index`` (big catalogues) each seed's nearest items come from the index
    instead of a product with every vector."""
    seeds = recent[has[recent]] if len(recent) else recent
    if not len(seeds):
        return Source("content", np.zeros(0, np.int64), np.zeros(0, np.float32), space=space)
    if index is not None and not index.exact:
        return _indexed_content(index, seeds, allowed, n, space)
    sims = vectors @ vectors[seeds].T  # (items, seeds)
    # Reduced as (seeds, items) rows: numpy's argmax along a short last axis loops per item (0.6 ms
    # of a 4 ms ranking on ML-1M); the same products, so the same scores and the same first best seed.
    by_seed = np.ascontiguousarray(sims.T)
    score = by_seed.max(axis=0)
    score[~has] = -np.inf
    pos, sc = top_allowed(score, allowed, n)
    keep = sc > 0  # an orthogonal or opposite item is not "similar" to anything the user liked
    pos, sc = pos[keep], sc[keep]
    best = by_seed[:, pos].argmax(axis=0) if len(pos) else np.zeros(0, dtype=np.int64)
    return Source("content", pos, sc, dict(zip(pos.tolist(), seeds[best].tolist(), strict=True)), space)


# Neighbours fetched per seed from an index: twice each seed's share of the candidates wanted, at
# least INDEX_MIN_PER_SEED, plus the seeds themselves (seen, so filtered out after). The union over
# seeds is what the exact product would rank; an item whose best seed lists it deeper than this is
# missed, which costs a candidate, not correctness (measured overlap with exact: see tests).
INDEX_FETCH = 2
INDEX_MIN_PER_SEED = 64


def _indexed_content(
    index: VectorIndex, seeds: np.ndarray, allowed: np.ndarray, n: int, space: str
) -> Source:
    per_seed = min(n, max(INDEX_FETCH * n // len(seeds), INDEX_MIN_PER_SEED)) + len(seeds)
    found = index.search(index.vectors[seeds], per_seed)
    pos, sims = found.positions.ravel(), found.scores.ravel()
    seed_of = np.repeat(np.arange(len(seeds)), found.positions.shape[1])
    ok = (pos >= 0) & (sims > 0)
    ok[ok] &= allowed[pos[ok]]
    pos, sims, seed_of = pos[ok], sims[ok], seed_of[ok]
    # Best seed per item: sort by (item, -cosine) and keep each item's first row.
    order = np.lexsort((-sims, pos))
    pos, sims, seed_of = pos[order], sims[order], seed_of[order]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = pos[1:] != pos[:-1]
    pos, sims, seed_of = pos[first], sims[first], seed_of[first]
    top = np.argsort(-sims, kind="stable")[:n]
    pos, sims, seed_of = pos[top], sims[top].astype(np.float32), seed_of[top]
    anchors = {int(p): int(seeds[s]) for p, s in zip(pos.tolist(), seed_of.tolist(), strict=True)}
    return Source("content", pos.astype(np.int64), sims, anchors, space)


def fresh_source(
    created: np.ndarray,
    allowed: np.ndarray,
    n: int,
    now: float,
    fresh_days: float,
    by_time: tuple[np.ndarray, np.ndarray] | None = None,
    window: np.ndarray | None = None,
) -> Source:
    """``by_time``: (every position sorted by ``created`` ascending, those times), as the catalogue
    keeps per snapshot; with it only the items inside the window are looked at. ``window``: those
    positions already picked, in position order (:meth:`Catalog.fresh_window`)."""
    if by_time is not None or window is not None:
        if window is None:
            assert by_time is not None
            order, times = by_time
            window = np.sort(order[int(np.searchsorted(times, now - fresh_days * DAY, side="left")) :])
        window = window[allowed[window]]
        age = (now - created[window]) / DAY
        pos, sc = top_allowed(-np.maximum(age, 0.0), np.ones(len(window), dtype=bool), n)
        pos = window[pos]
        return Source("fresh", pos, (1.0 + sc / max(fresh_days, 1e-9)).astype(np.float32))
    age = (now - created) / DAY
    score = np.where(age <= fresh_days, -np.maximum(age, 0.0), -np.inf)
    pos, sc = top_allowed(score, allowed, n)
    # Newer is better; report as 1 for brand new, falling linearly to 0 at the window's edge.
    return Source("fresh", pos, (1.0 + sc / max(fresh_days, 1e-9)).astype(np.float32))


@dataclass(frozen=True)
class Trending:
    scores: np.ndarray  # float32 decayed engagement per catalogue position (0 = none)
    viewers: np.ndarray  # int64 distinct users per position within the window
    window_days: float
    newest: float  # time of the newest event the window ends at
    # Positions with a positive score, best first (ties by position): what the source walks.
    order: np.ndarray | None = None


class TrendingCache:
    """Time-decayed recent popularity, recomputed off the request path.

    The first request computes it (concurrent first requests wait for that one computation). Later,
    when events have arrived and the figures are older than :data:`TRENDING_REFRESH_SECONDS`, one
    long-lived worker thread recomputes them while requests keep getting the previous figures.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._computing = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._value: Trending | None = None
        self._at = 0.0
        self._job: tuple[Store, Catalog, float, float, int] | None = None
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._cleared = 0  # clear() calls: figures computed across one are not kept

    def get(
        self,
        store: Store,
        catalog: Catalog,
        window_days: float,
        half_life_days: float,
        newest_id: int | None = None,  # the store's newest event id, when the caller has just read it
    ) -> Trending:
        newest_id = store.newest_event_id() if newest_id is None else newest_id
        setup = (id(catalog), window_days, half_life_days)
        with self._lock:
            if self._value is not None and self._key is not None and self._key[:3] == setup:
                if self._key[3] != newest_id and time.monotonic() - self._at >= TRENDING_REFRESH_SECONDS:
                    self._at = time.monotonic()  # one refresh per interval, however many requests
                    self._job = (store, catalog, window_days, half_life_days, newest_id)
                    if self._worker is None:
                        self._worker = threading.Thread(
                            target=self._run, name="mediarec-trending", daemon=True
                        )
                        self._worker.start()
                    self._wake.set()
                return self._value
        with self._computing:
            with self._lock:
                if self._value is not None and self._key is not None and self._key[:3] == setup:
                    return self._value  # computed by the request this one waited for
            return self._compute(store, catalog, window_days, half_life_days, newest_id)

    def peek(
        self, catalog: Catalog, window_days: float, half_life_days: float, newest_id: int
    ) -> Trending | None:
        """What :meth:`get` returns now when it would neither compute nor schedule a refresh, else
        None; never waits."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            key, value = self._key, self._value
            if value is None or key is None or key[:3] != (id(catalog), window_days, half_life_days):
                return None
            due = key[3] != newest_id and time.monotonic() - self._at >= TRENDING_REFRESH_SECONDS
            return None if due else value
        finally:
            self._lock.release()

    def clear(self) -> None:
        """Forget the figures (a user was deleted: their views must stop counting now, even when no
        new event would trigger a refresh); the next request computes them afresh."""
        with self._lock:
            self._key, self._value, self._job = None, None, None
            self._cleared += 1

    def _compute(
        self, store: Store, catalog: Catalog, window_days: float, half_life_days: float, newest_id: int
    ) -> Trending:
        with self._lock:
            cleared = self._cleared
        value = _trending(store, catalog, window_days, half_life_days)
        with self._lock:
            if cleared == self._cleared:  # else it may count a user deleted while it ran
                self._key = (id(catalog), window_days, half_life_days, newest_id)
                self._value, self._at = value, time.monotonic()
        return value

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                job, self._job = self._job, None
            if job is not None:
                with self._computing:
                    self._compute(*job)


def _trending(store: Store, catalog: Catalog, window_days: float, half_life_days: float) -> Trending:
    newest, users, items, times = store.recent_item_events(window_days * DAY)
    n = len(catalog)
    scores = np.zeros(n, dtype=np.float32)
    viewers = np.zeros(n, dtype=np.int64)
    pos = catalog.positions_of(items)
    ok = pos >= 0
    if ok.any():
        pos, users, times = pos[ok], users[ok], times[ok]
        age = (newest - times) / DAY
        decay = np.exp2(-age / half_life_days) if half_life_days > 0 else np.ones(len(age))
        scores = np.bincount(pos, weights=decay, minlength=n).astype(np.float32)
        # Distinct (item, user) pairs, via one int64 key per pair rather than a 2-D unique.
        pairs = np.unique(pos * (int(users.max()) + 1) + users)
        viewers = np.bincount(pairs // (int(users.max()) + 1), minlength=n).astype(np.int64)
    hot = np.flatnonzero(scores > 0)
    order = hot[np.argsort(-scores[hot], kind="stable")]
    return Trending(scores, viewers, window_days, newest, order)


def trending_source(trending: Trending, allowed: np.ndarray, n: int) -> Source:
    if trending.order is not None:
        pos = first_allowed(trending.order, allowed, n)
        return Source("trending", pos, trending.scores[pos].astype(np.float32))
    score = np.where(trending.scores > 0, trending.scores, -np.inf)
    pos, sc = top_allowed(score, allowed, n)
    return Source("trending", pos, sc)

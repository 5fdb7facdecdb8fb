"""Who may be shown a new, little-seen item: a bounded audience chosen by taste, with no global state.

A new item (added within ``fresh_days``, fewer than ``explore_max_viewers`` viewers) has no CF
signal, so the fresh source, the freshness boost, exploration and a loose content match would
otherwise push it into almost every list at once. Instead each such item gets an audience per
period:

- every user's *taste vector* is the weighted mean of the centred content vectors of their
  positive items (the training weights), normalised; the item's match with a user is the cosine
  between that vector and the item's centred content vector. Centred: the catalogue's mean content
  vector is subtracted first, since what all items share (the same kind of title card, the same
  narrating voice) says nothing about taste and otherwise puts every cosine near 0.5;
- a user is never offered the item while their match is below ``new_item_min_match``;
- in period ``k`` (``k = floor(item age / new_item_period_days)``) the item is offered to the users
  whose match ranks ``k·S .. (k+1)·S − 1`` among all users, ``S = floor(new_item_share · users)``:
  the best-matching share first, the next share in the next period, until the minimum match or
  enough viewers ends it.

The ranking is computed in one batch from the catalogue snapshot and the users' events (above
``SAMPLE_USERS`` users, a uniform sample of users and only their events: rank/user_sample.py) and kept
as two cosine bounds per item (the band of period ``k``). A request compares its user's *live*
taste vector against that band, so any process holding the same snapshot decides alike without a
shared counter, and a user whose events arrived after the batch is judged by their current taste.
An item without a content vector cannot be matched; it falls back to an untargeted but still
bounded audience: users whose deterministic hash of (user, item, period) falls below the share.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import InteractionWeights
from mediarec.rank import prefetch
from mediarec.rank.catalog import BACKGROUND_RELOAD_ITEMS, Catalog, release_freed_memory
from mediarec.rank.history import UserHistory
from mediarec.rank.user_sample import sample_users

if TYPE_CHECKING:
    from mediarec.store import Store

DAY = 86400.0
# The batch of tastes is redone at most this often when events arrive (a minute of lag only shifts
# which users sit at the edge of a band).
REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class AudienceRule:
    share: float  # of all users, per period
    period_days: float
    min_match: float
    fresh_days: float
    max_viewers: int  # items with at least this many viewers are not new any more


@dataclass(frozen=True)
class Audiences:
    """Per catalogue position of a new item: the cosine band its audience must fall in this period."""

    users: int  # users counted (everyone with an event)
    new: np.ndarray  # bool per position: a new, little-seen item, subject to an audience
    high: np.ndarray  # float per position: exclusive upper bound (inf in the first period)
    low: np.ndarray  # float per position: inclusive lower bound (inf: nobody left this period)
    period: np.ndarray  # int per position
    # Per-snapshot work every request would otherwise redo, filled on first use (rank/audience.py,
    # eligible): the new positions with and without content, their rows, their items' hash keys.
    derived: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


def taste_vector(
    content: np.ndarray | CentredRows, has: np.ndarray, items: np.ndarray, weights: np.ndarray
) -> np.ndarray | None:
    """The user's unit taste vector from their positive items with content; None without any."""
    ok = has[items] if len(items) else np.zeros(0, dtype=bool)
    if not ok.any():
        return None
    v = (weights[ok].astype(np.float64)[:, None] * content[items[ok]]).sum(axis=0)
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else None


def centred(catalog: Catalog) -> np.ndarray:
    """Content vectors minus the mean of those present, as unit rows (zeros where none)."""
    assert catalog.content is not None
    has = catalog.has_content
    out = np.zeros_like(catalog.content)
    if not has.any():
        return out
    shifted = catalog.content[has] - catalog.content[has].mean(axis=0)
    norms = np.linalg.norm(shifted, axis=1)
    norms[norms == 0] = 1.0
    out[has] = shifted / norms[:, None]
    return out


class CentredRows:
    """The rows of :func:`centred`, made when gathered (``rows[positions]``), equal to them bit for
    bit. The whole matrix is as big as the content itself (1.5 GB at a million 384-d items) and a
    serving process kept it beside the content for good, while every use gathers a few rows: a
    user's items, the new items, the items of the sampled users' events. Kept: the mean and one norm
    per row."""

    def __init__(self, catalog: Catalog, block: int = 65_536) -> None:
        assert catalog.content is not None
        self.content, self.has = catalog.content, catalog.has_content
        self.shape: tuple[int, int] = (int(catalog.content.shape[0]), int(catalog.content.shape[1]))
        self.norms = np.ones(self.shape[0], dtype=self.content.dtype)
        self.mean = np.zeros(self.shape[1], dtype=self.content.dtype)
        present = np.flatnonzero(self.has)
        if not len(present):
            return
        # The same reduction as centred()'s over the same values (a full mask copies nothing).
        self.mean = (self.content if len(present) == self.shape[0] else self.content[self.has]).mean(axis=0)
        for start in range(0, len(present), block):  # per-row norms: independent of the block
            rows = present[start : start + block]
            norms = np.linalg.norm(self.content[rows] - self.mean, axis=1)
            norms[norms == 0] = 1.0
            self.norms[rows] = norms

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, positions: np.ndarray) -> np.ndarray:
        rows = np.asarray(positions, dtype=np.int64).reshape(-1)
        out = np.zeros((len(rows), self.shape[1]), dtype=self.content.dtype)
        ok = self.has[rows]
        picked = rows[ok]
        out[ok] = (self.content[picked] - self.mean) / self.norms[picked, None]
        return out


def _key64(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _hash_units(user: str, item_keys: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """A uniform draw in [0, 1) per (user, item, period), the same in every process: the user's and
    each item's 64-bit key (SHA-256) mixed with the period by splitmix64's finaliser, in one
    vectorised pass (a SHA-256 per new item and request cost ~10 µs each: 10 ms per 1,000 new
    items without content, on every request)."""
    with np.errstate(over="ignore"):
        x = item_keys ^ np.uint64(_key64(user)) ^ (periods.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**53


def new_items(catalog: Catalog, viewers: np.ndarray, rule: AudienceRule, now: float) -> np.ndarray:
    age = (now - catalog.since) / DAY
    return (age <= rule.fresh_days) & (viewers < rule.max_viewers)


def all_tastes(
    store: Store, catalog: Catalog, weights: InteractionWeights, content: np.ndarray | CentredRows
) -> np.ndarray:
    """Unit taste vectors (over ``content``, the centred vectors) of every user with a positive item
    that has content (rows of zeros for users without), one row per user with any event."""
    return _tastes(store, catalog, weights, content, sampled=False).rows


@dataclass(frozen=True, eq=False)
class TasteSample:
    """The taste vectors the band edges are computed from: a sample of :data:`SAMPLE_USERS` users
    above that many stored users (rows in internal id order, ``ids``), everyone with an event below
    (rows in user order, ``ids`` None), and how many users there are (``len``). The bands read no
    other row, and every user's row was 1.5 GB at a million users."""

    users: int
    rows: np.ndarray
    ids: np.ndarray | None = None  # int64 internal user id per row of a sample

    def __len__(self) -> int:
        return self.users


def sampled_tastes(
    store: Store, catalog: Catalog, weights: InteractionWeights, content: np.ndarray | CentredRows
) -> TasteSample:
    """The rows :func:`audiences` reads of :func:`all_tastes`, equal to them, without the others."""
    return _tastes(store, catalog, weights, content, sampled=True)


def _sample_rows(n_users: int) -> np.ndarray | None:
    """The users (rows, sorted) whose tastes place the band edges; None: everyone."""
    if n_users <= SAMPLE_USERS:
        return None
    return np.sort(np.random.default_rng(0).choice(n_users, SAMPLE_USERS, replace=False))


def _tastes(
    store: Store,
    catalog: Catalog,
    weights: InteractionWeights,
    content: np.ndarray | CentredRows,
    sampled: bool,
) -> TasteSample:
    if sampled:
        population, last_id = store.user_population()
        if population > SAMPLE_USERS:
            ids = sample_users(store, last_id, SAMPLE_USERS)
            return TasteSample(population, _taste_rows(store, catalog, weights, content, ids), ids)
    # Everyone's (few users, or all_tastes): every event, read at once.
    ev = store.event_columns()
    if not len(ev.users):
        return TasteSample(0, np.zeros((0, content.shape[1]), dtype=np.float32))
    users, user_row = np.unique(ev.users, return_inverse=True)
    pos = _positions(catalog, ev.items)
    w = weights.weigh(ev.types, ev.values)
    del ev  # the id columns: ~1.4 GB of strings at 21 M events, not needed past here
    keep = (pos >= 0) & (w > 0)
    keep[keep] &= catalog.has_content[pos[keep]]
    return TasteSample(len(users), _unit_tastes(user_row[keep], pos[keep], w[keep], len(users), content))


def _unit_tastes(
    row: np.ndarray, pos: np.ndarray, w: np.ndarray, n_rows: int, content: np.ndarray | CentredRows
) -> np.ndarray:
    """Unit taste rows from (row, catalogue position, weight) triples of positive events on items
    with content, a row's events in their stored order. Only the items named are gathered, in
    position order: each row's sum is the same, term by term, whichever other rows share the batch."""
    cols, col = np.unique(pos, return_inverse=True)
    matrix = sp.csr_matrix((w, (row, col)), shape=(n_rows, len(cols)))
    tastes = np.asarray(matrix @ content[cols], dtype=np.float32)
    norms = np.linalg.norm(tastes, axis=1)
    tastes[norms > 0] /= norms[norms > 0, None]
    return tastes


# Sampled users whose events are read per query and turned into taste rows at once: each batch holds
# the GIL for a few milliseconds of row conversion (a read of every event held it for up to 1.4 s
# at a time at 2.1 M events, stalling every request of the process: docs/benchmarks.md).
USERS_PER_READ = 256


def _taste_rows(
    store: Store,
    catalog: Catalog,
    weights: InteractionWeights,
    content: np.ndarray | CentredRows,
    ids: np.ndarray,
) -> np.ndarray:
    """The unit taste rows of the users with internal ids ``ids`` (sorted), from their events only."""
    out = np.zeros((len(ids), content.shape[1]), dtype=np.float32)
    for start in range(0, len(ids), USERS_PER_READ):
        chunk = ids[start : start + USERS_PER_READ]
        ev = store.events_of_users(chunk.tolist())
        pos = catalog.positions_of(ev.items)
        w = weights.weigh(ev.types, ev.values)
        keep = (pos >= 0) & (w > 0)
        keep[keep] &= catalog.has_content[pos[keep]]
        if keep.any():
            row = np.searchsorted(chunk, ev.users[keep])
            out[start : start + len(chunk)] = _unit_tastes(row, pos[keep], w[keep], len(chunk), content)
    return out


def _positions(catalog: Catalog, item_ids: np.ndarray) -> np.ndarray:
    """Catalogue positions of external ids (-1 for unknown), by binary search rather than a dict
    lookup per event (millions of events)."""
    if not len(catalog) or not len(item_ids):
        return np.full(len(item_ids), -1, dtype=np.int64)
    order = np.argsort(catalog.item_ids, kind="stable")
    ids = catalog.item_ids[order]
    wanted = np.asarray(item_ids, dtype=str)
    at = np.clip(np.searchsorted(ids, wanted), 0, len(ids) - 1)
    return np.where(ids[at] == wanted, order[at], -1).astype(np.int64)


# Above this many users the band edges are order statistics of a seeded sample of users, not of
# everyone: ranking a million users against thousands of new items is a (users x items) product of
# tens of GiB. The edge at rank r of n is then the sample's quantile r/n, off by about
# sqrt(p(1-p)/m) of the users (p the quantile, m this size: at most 0.35% of them at 20,000), so an
# audience is share x users give or take that. Below it the bands are exact.
SAMPLE_USERS = 20_000
# New items scored per block of the product, so memory stays at ~(users x CHUNK) floats.
CHUNK_ITEMS = 512


def audiences(
    tastes: np.ndarray | TasteSample,
    catalog: Catalog,
    viewers: np.ndarray,
    rule: AudienceRule,
    now: float,
    content: np.ndarray | CentredRows | None = None,
) -> Audiences:
    """``content``: the centred vectors the tastes were made from (default: made here)."""
    n_users = len(tastes)
    n = len(catalog)
    new = new_items(catalog, viewers, rule, now)
    high = np.full(n, np.inf)
    low = np.full(n, np.inf)
    period = np.zeros(n, dtype=np.int64)
    size = int(np.floor(rule.share * n_users + 1e-9))
    matched = (
        np.flatnonzero(new & catalog.has_content) if catalog.content is not None else np.zeros(0, np.int64)
    )
    if not (n_users and size and len(matched)):
        return Audiences(n_users, new, high, low, period)
    vectors = centred(catalog) if content is None else content
    if isinstance(tastes, TasteSample):
        sample = tastes.rows
    else:
        rows = _sample_rows(n_users)
        sample = tastes if rows is None else tastes[rows]
    m = len(sample)
    has_taste = np.linalg.norm(sample, axis=1) > 0
    ages = np.maximum(now - catalog.since[matched], 0.0) / DAY
    periods = (ages // rule.period_days).astype(np.int64)
    period[matched] = periods
    for start in range(0, len(matched), CHUNK_ITEMS):
        cols = matched[start : start + CHUNK_ITEMS]
        ks = periods[start : start + CHUNK_ITEMS]
        sims = sample @ vectors[cols].T  # (sampled users, items of this block)
        sims[~has_taste] = -np.inf  # users without a taste rank last
        for k in np.unique(ks).tolist():
            first = k * size
            if first >= n_users:
                continue  # every user has had their period: nobody is left
            last = min((k + 1) * size - 1, n_users - 1)
            # Descending rank r of n users is the sample's ascending position ~ (m - 1) (1 - r / (n - 1)).
            at = sorted({_position(r, n_users, m) for r in (first - 1, last) if r >= 0})
            block = np.flatnonzero(ks == k)
            part = np.partition(sims[:, block], at, axis=0)  # order statistics, no full sort
            edge_low = part[_position(last, n_users, m)]
            low[cols[block]] = np.maximum(edge_low.astype(np.float64), rule.min_match)
            if first > 0:
                high[cols[block]] = part[_position(first - 1, n_users, m)].astype(np.float64)
    return Audiences(n_users, new, high, low, period)


def _position(rank: int, n: int, m: int) -> int:
    """Ascending position in a sample of ``m`` of the value at descending ``rank`` among ``n``
    (exact when the sample is everyone)."""
    if m == n:
        return n - 1 - rank
    return round((m - 1) * (1.0 - rank / max(n - 1, 1)))


def eligible(
    found: Audiences,
    catalog: Catalog,
    history: UserHistory,
    user: str,
    rule: AudienceRule,
    now: float,
    content: np.ndarray | CentredRows | None = None,
) -> tuple[np.ndarray, dict[int, float]]:
    """(bool mask over positions: new items this user may not be shown, {position: match} of the
    new items they may be shown). ``content``: the centred vectors (default: made here)."""
    blocked = found.new.copy()
    matches: dict[int, float] = {}
    d = found.derived
    if "new" not in d:  # once per batch of bands (a race computes the same arrays twice)
        new = np.flatnonzero(found.new)
        with_content = new[catalog.has_content[new]] if catalog.content is not None else new[:0]
        d["hashed"] = new[~catalog.has_content[new]] if catalog.content is not None else new
        d["hash_keys"] = np.asarray([_key64(str(catalog.item_ids[p])) for p in d["hashed"]], dtype=np.uint64)
        d["with_content"] = with_content
        d["new"] = new
    if not len(d["new"]):
        return blocked, matches
    if catalog.content is not None and len(d["with_content"]):
        content = centred(catalog) if content is None else content
        taste = taste_vector(content, catalog.has_content, history.items, history.weights)
        if taste is not None:
            if "rows" not in d:  # the new items' centred vectors, gathered once
                d["rows"] = np.ascontiguousarray(content[d["with_content"]])
            with_content = d["with_content"]
            # Items with content: one product for all of them (a big catalogue has thousands of new items).
            m = d["rows"] @ taste
            inside = (found.low[with_content] <= m) & (m < found.high[with_content])
            blocked[with_content[inside]] = False
            matches = dict(zip(with_content[inside].tolist(), m[inside].astype(float).tolist(), strict=True))
    hashed = d["hashed"]
    if len(hashed):
        # No content to match: an untargeted audience of the same size, fixed per period.
        periods = (np.maximum(now - catalog.since[hashed], 0.0) / DAY // rule.period_days).astype(np.int64)
        blocked[hashed[_hash_units(user, d["hash_keys"], periods) < rule.share]] = False
    return blocked, matches


class AudienceCache:
    """The batch of taste vectors, recomputed when the catalogue changes, or at most every
    :data:`REFRESH_SECONDS` when events arrived or a user was deleted (:meth:`forget`). A refresh
    reads the sampled users' events (every event below :data:`SAMPLE_USERS` users); it runs on a
    background thread while requests keep the previous batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._value: tuple[TasteSample, CentredRows] | None = None
        self._at = 0.0
        self._refreshing = False
        self._forgotten = 0  # forget() calls: a refresh that began before one is not the last

    def forget(self) -> None:
        """A user was deleted: the batch holds their taste (a sampled row, or one of everyone's)
        until the next refresh, which the next request now starts whether or not events arrived."""
        with self._lock:
            self._forgotten += 1
            if self._key is not None:
                self._key, self._at = (self._key[0], -1), -REFRESH_SECONDS

    def _refresh(
        self, store: Store, catalog: Catalog, weights: InteractionWeights, content: CentredRows, newest: int
    ) -> None:
        try:
            with self._lock:
                forgotten = self._forgotten
            value = (sampled_tastes(store, catalog, weights, content), content)
            if value[0].ids is None:
                prefetch.rewarm()  # every event was read: mapped index pages may have been dropped
            with self._lock:
                if self._key is not None and self._key[0] == id(catalog):  # not replaced meanwhile
                    self._value, self._key, self._at = value, (id(catalog), newest), time.monotonic()
                    if forgotten != self._forgotten:  # a deletion while it read: refresh again
                        self._key, self._at = (id(catalog), -1), -REFRESH_SECONDS
        finally:
            with self._lock:
                self._refreshing = False

    def peek(self, catalog: Catalog, newest: int) -> tuple[TasteSample, CentredRows] | None:
        """What :meth:`tastes` returns now when it would neither compute nor start a refresh, else
        None; never waits (a first computation runs under the lock)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            key, value = self._key, self._value
            if value is None or key is None or key[0] != id(catalog):
                return None
            fresh = time.monotonic() - self._at < REFRESH_SECONDS
            return value if key[1] == newest or fresh or self._refreshing else None
        finally:
            self._lock.release()

    def tastes(
        self, store: Store, catalog: Catalog, weights: InteractionWeights, newest: int | None = None
    ) -> tuple[TasteSample, CentredRows]:
        """(the taste vectors the bands read, the catalogue's centred content vectors, made by row);
        ``newest``: the store's newest event id, when the caller has just read it."""
        newest = store.newest_event_id() if newest is None else newest
        with self._lock:
            fresh = time.monotonic() - self._at < REFRESH_SECONDS
            if self._value is not None and self._key is not None and self._key[0] == id(catalog):
                if self._key[1] == newest or fresh or self._refreshing:
                    return self._value
                # The same snapshot: its centred vectors still hold; new events only move tastes.
                self._refreshing, self._at = True, time.monotonic()
                args = (store, catalog, weights, self._value[1], newest)
                threading.Thread(target=self._refresh, args=args, name="mediarec-tastes", daemon=True).start()
                return self._value
            else:
                content = CentredRows(catalog)
            self._value = (sampled_tastes(store, catalog, weights, content), content)
            if len(catalog) > BACKGROUND_RELOAD_ITEMS:
                # What was read for it back to the system, once per snapshot (every event was ~9 GB
                # of rows at 21 M events; a sample's are far fewer): a refresh reuses what glibc keeps.
                release_freed_memory()
            if self._value[0].ids is None:
                prefetch.rewarm()  # every event was read: mapped index pages may have been dropped
            self._key, self._at = (id(catalog), newest), time.monotonic()
            return self._value


# The bands move with the clock (an item's period, its place in the fresh window), new viewers and
# new tastes. They are recomputed at most this often, on a background thread while requests keep
# the previous bands (at a million items one computation takes seconds: a request paying it was
# the p99 outlier of the 1 M run). A request whose clock is more than BANDS_MAX_LAG_SECONDS away
# from the bands' computes them itself (a server idle that long, or a caller passing its own time).
BANDS_REFRESH_SECONDS = 60.0
BANDS_MAX_LAG_SECONDS = 600.0
# ...and at most once per this many times their last computation's duration, so the background
# refresh takes at most a tenth of a core (at a million items with thousands of new items, one
# computation is ~30 s: the bands then lag the clock by up to ~5 minutes of their 7-day periods).
BANDS_COST_FACTOR = 10.0


Key = tuple[object, ...]
Compute = Callable[[float], Audiences]


class BandCache:
    """The audiences of one (catalogue snapshot, model view, rule); a new one of those is
    computed on the request (positions and viewers differ, nothing carries over)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._computing = threading.Lock()
        self._key: Key | None = None
        self._inputs: Key | None = None
        self._value: Audiences | None = None
        self._now = 0.0  # the request time the bands were computed for
        self._at = 0.0  # monotonic time of that computation
        self._cost = 0.0  # its duration
        self._busy = False

    def _usable(self, key: Key, now: float, wait: bool = True) -> bool:
        # A request that must not wait takes bands of any age (refreshed meanwhile).
        lag_ok = not wait or abs(now - self._now) <= BANDS_MAX_LAG_SECONDS
        return self._value is not None and self._key == key and lag_ok

    def get(self, key: Key, inputs: Key, now: float, compute: Compute, wait: bool = True) -> Audiences | None:
        """``key``: what the bands' positions depend on; ``inputs``: what moves them (tastes,
        viewers), refreshed in the background; ``compute(now)``: the bands at that time.
        ``wait=False``: when no usable bands exist, they are computed in the background too and
        None is returned meanwhile (the caller then holds every new item back)."""
        with self._lock:
            if self._usable(key, now, wait):
                assert self._value is not None
                interval = max(BANDS_REFRESH_SECONDS, BANDS_COST_FACTOR * self._cost)
                stale = inputs != self._inputs or now - self._now >= interval
                if stale and not self._busy and time.monotonic() - self._at >= interval:
                    self._busy = True
                    job = (key, inputs, now, compute)
                    name = "mediarec-bands"
                    threading.Thread(target=self._refresh, args=job, name=name, daemon=True).start()
                return self._value
            if not wait:
                if not self._busy:
                    self._busy = True
                    first = (key, inputs, now, compute, True)
                    name = "mediarec-bands"
                    threading.Thread(target=self._refresh, args=first, name=name, daemon=True).start()
                return None
        with self._computing:
            with self._lock:
                if self._usable(key, now):
                    assert self._value is not None
                    return self._value  # computed by the request this one waited for
            started = time.monotonic()
            return self._store(key, inputs, now, compute(now), time.monotonic() - started)

    def _store(self, key: Key, inputs: Key, now: float, value: Audiences, cost: float) -> Audiences:
        with self._lock:
            self._key, self._inputs, self._now, self._value = key, inputs, now, value
            self._at, self._cost = time.monotonic(), cost
        return value

    def _refresh(self, key: Key, inputs: Key, now: float, compute: Compute, first: bool = False) -> None:
        try:
            with self._computing:
                started = time.monotonic()
                value = compute(now)
                with self._lock:
                    current = first or self._key == key
                if current:  # not replaced by a new snapshot meanwhile
                    self._store(key, inputs, now, value, time.monotonic() - started)
        finally:
            with self._lock:
                self._busy = False

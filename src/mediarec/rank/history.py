"""One user's behaviour, read live from the store at request time (no retrain needed to see it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mediarec.interactions import InteractionWeights
from mediarec.rank.catalog import Catalog


@dataclass(frozen=True)
class UserHistory:
    """Events mapped onto catalogue positions.

    ``weights`` sums each item's training weights (what fold-in and interests read); ``recent``
    lists positive items newest first; ``stamp`` changes with every new event, so caches of
    anything derived from the history key on it.
    """

    seen: np.ndarray  # int64 catalogue positions with any event (skips included)
    watched: dict[int, float]  # position -> highest watch fraction of its views
    items: np.ndarray  # int64 positions with positive weight
    weights: np.ndarray  # float32, aligned with ``items``
    recent: np.ndarray  # int64 positive positions, most recent first
    stamp: tuple[int, int]  # (event count, newest event id)

    @property
    def empty(self) -> bool:
        return not len(self.seen)


def load_history(store: object, user: str, catalog: Catalog, weights: InteractionWeights) -> UserHistory:
    rows = store.user_event_rows(user)  # type: ignore[attr-defined]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return UserHistory(empty, {}, empty, np.zeros(0, np.float32), empty, (0, 0))
    event_ids, item_ids, type_col, value_col, time_col = zip(*rows, strict=True)
    ids = np.asarray(event_ids, dtype=np.int64)
    pos = catalog.positions_of(np.asarray(item_ids, dtype=np.int64))
    types = np.asarray(type_col, dtype=str)
    values = np.asarray(value_col, dtype=np.float64)  # a missing value (None) becomes NaN
    times = np.asarray(time_col, dtype=np.float64)
    known = pos >= 0  # an item added after the catalogue snapshot is picked up on the next request
    pos, types, values, times = pos[known], types[known], values[known], times[known]
    watched: dict[int, float] = {}
    views = (types == "view") & ~np.isnan(values)  # a view without a fraction says nothing about it
    for p, v in zip(pos[views].tolist(), values[views].tolist(), strict=True):
        watched[p] = max(watched.get(p, 0.0), v)
    w = weights.weigh(types, values)
    positive = w > 0
    items, inverse = np.unique(pos[positive], return_inverse=True)
    summed = np.bincount(inverse, weights=w[positive], minlength=len(items)).astype(np.float32)
    latest = np.full(len(items), -np.inf)
    np.maximum.at(latest, inverse, times[positive])
    recent = items[np.argsort(-latest, kind="stable")]
    return UserHistory(
        seen=np.unique(pos),
        watched=watched,
        items=items.astype(np.int64),
        weights=summed,
        recent=recent.astype(np.int64),
        stamp=(len(rows), int(ids.max())),
    )

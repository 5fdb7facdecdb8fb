"""Request-time filters, as one boolean mask over the catalogue: what may be recommended at all."""

from __future__ import annotations

import numpy as np

from mediarec.rank.catalog import Catalog
from mediarec.rank.history import UserHistory


def allowed_mask(
    catalog: Catalog,
    history: UserHistory,
    *,
    exclude_seen: bool,
    watched_fraction: float,
    kind: str | None = None,
    creator: str | None = None,
) -> np.ndarray:
    """True where an item passes every filter.

    ``exclude_seen`` drops every item the user has any event on (skips too). Independently, an item
    the user viewed to at least ``watched_fraction`` is dropped even when seen items are allowed
    back: it was finished, so it is not worth resurfacing. ``watched_fraction`` 0 turns that off.
    """
    n = len(catalog)
    allowed = np.ones(n, dtype=bool)
    if exclude_seen and len(history.seen):
        allowed[history.seen] = False
    if watched_fraction > 0 and history.watched:
        done = [p for p, f in history.watched.items() if f >= watched_fraction]
        allowed[np.asarray(done, dtype=np.int64)] = False
    # Positions per kind and creator are grouped once per catalogue snapshot, not compared per request.
    if kind:
        allowed &= _only(n, catalog.kind_positions.get(kind))
    if creator:
        allowed &= _only(n, catalog.creator_positions.get(creator))
    return allowed


def _only(n: int, positions: np.ndarray | None) -> np.ndarray:
    keep = np.zeros(n, dtype=bool)
    if positions is not None:
        keep[positions] = True
    return keep

"""The training matrix every recommender consumes: users × items, fixed once and never flipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mediarec.settings import Settings


@dataclass(frozen=True)
class InteractionWeights:
    """How behaviour events become implicit-feedback confidence.

    Weights of one user's events on one item add up. Skips and views below ``min_watch_fraction``
    contribute nothing (they still count as *seen* wherever the store is asked).
    """

    view: float = 1.0  # times the watch fraction (a view without a fraction counts fully)
    like: float = 2.0
    share: float = 3.0
    comment: float = 2.0
    rating: float = 1.0
    rating_threshold: float = 0.0  # 0 keeps every rating: the usual top-N protocol on MovieLens
    min_watch_fraction: float = 0.0

    @classmethod
    def from_settings(cls, s: Settings) -> InteractionWeights:
        return cls(
            view=s.weight_view,
            like=s.weight_like,
            share=s.weight_share,
            comment=s.weight_comment,
            rating=s.weight_rating,
            rating_threshold=s.rating_threshold,
            min_watch_fraction=s.min_watch_fraction,
        )

    def weigh(self, types: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Vectorised weight per event; ``values`` holds NaN where an event has no value."""
        w = np.zeros(len(types), dtype=np.float64)
        has = ~np.isnan(values)
        view = types == "view"
        frac = np.where(has, values, 1.0)
        w[view] = self.view * frac[view]
        w[view & has & (values < self.min_watch_fraction)] = 0.0
        w[types == "like"] = self.like
        w[types == "share"] = self.share
        w[types == "comment"] = self.comment
        rating = types == "rating"
        keep = rating & (~has | (values >= self.rating_threshold))
        w[keep] = self.rating
        return w


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback as a CSR matrix with its id maps.

    ``matrix[u, i]`` is the summed confidence of user ``user_ids[u]`` on item ``item_ids[i]``;
    ``last_seen[u, i]`` (same sparsity) the time of their latest event, when known.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    last_seen: sp.csr_matrix | None = None

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def user_index(self) -> dict[str, int]:
        return {str(u): i for i, u in enumerate(self.user_ids)}

    def item_index(self) -> dict[str, int]:
        return {str(it): i for i, it in enumerate(self.item_ids)}

    def binary(self) -> sp.csr_matrix:
        m = self.matrix.copy()
        m.data[:] = 1.0
        return m


def from_indices(
    rows: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray,
    user_ids: Sequence[str] | np.ndarray,
    item_ids: Sequence[str] | np.ndarray,
    times: np.ndarray | None = None,
) -> Interactions:
    """Sum duplicate (user, item) pairs and drop zero weights; keeps the given id order."""
    shape = (len(user_ids), len(item_ids))
    keep = weights > 0
    rows, cols, weights = rows[keep], cols[keep], weights[keep]
    matrix = sp.csr_matrix(
        (weights.astype(np.float32), (rows.astype(np.int32), cols.astype(np.int32))), shape=shape
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    last_seen = None
    if times is not None:
        times = times[keep]
        # Keep the latest time of each pair: sort so that the last write per pair wins.
        order = np.lexsort((times, cols, rows))
        r, c, t = rows[order], cols[order], times[order]
        last = np.ones(len(r), dtype=bool)
        if len(r) > 1:
            last[:-1] = (r[:-1] != r[1:]) | (c[:-1] != c[1:])
        last_seen = sp.csr_matrix((t[last], (r[last], c[last])), shape=shape, dtype=np.float64)
        last_seen.sort_indices()
    matrix.sort_indices()
    return Interactions(
        matrix=matrix,
        user_ids=np.asarray(user_ids, dtype=str),
        item_ids=np.asarray(item_ids, dtype=str),
        last_seen=last_seen,
    )


def from_events(
    users: np.ndarray,
    items: np.ndarray,
    types: np.ndarray,
    values: np.ndarray,
    times: np.ndarray,
    weights: InteractionWeights | None = None,
    item_ids: Sequence[str] | np.ndarray | None = None,
    user_ids: Sequence[str] | np.ndarray | None = None,
) -> Interactions:
    """Build the matrix from event columns.

    ``item_ids`` fixes the catalogue (items without events stay as empty columns, so that they can
    still be ranked); events on items outside it are dropped. Users default to those with events.
    """
    weights = weights or InteractionWeights()
    users = np.asarray(users, dtype=str)
    items = np.asarray(items, dtype=str)
    if user_ids is None:
        user_ids = np.unique(users)
    if item_ids is None:
        item_ids = np.unique(items)
    user_ids = np.asarray(user_ids, dtype=str)
    item_ids = np.asarray(item_ids, dtype=str)
    rows = _positions(user_ids, users)
    cols = _positions(item_ids, items)
    w = weights.weigh(np.asarray(types, dtype=str), np.asarray(values, dtype=np.float64))
    ok = (rows >= 0) & (cols >= 0)
    return from_indices(rows[ok], cols[ok], w[ok], user_ids, item_ids, np.asarray(times, np.float64)[ok])


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``ids`` (which need not be sorted), -1 where absent."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    pos = np.searchsorted(sorted_ids, values)
    pos = np.clip(pos, 0, max(len(ids) - 1, 0))
    found = (len(ids) > 0) & (sorted_ids[pos] == values) if len(ids) else np.zeros(len(values), bool)
    return np.where(found, order[pos], -1).astype(np.int64)

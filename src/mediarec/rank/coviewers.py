"""Co-viewer counts of the collaborative reason: how many other users engaged with a ranked item and
with at least one of the user's own items, counted in the model's training matrix.

Two exact ways, the same counts:

- :func:`gathered`: a mask over users, set from every viewer of every item in the user's history,
  then counted per ranked item. Its cost is the total viewers of the user's items: on ML-1M a user
  with a few hundred items reaches hundreds of thousands of entries, about a fifth of a whole ranking
  (py-spy, 1,200 POST+GET pairs in process).
- :class:`CoviewerBits`: each item's viewers as a packed bit row, built once per model view. The
  user's peers are the OR of their items' rows and each count a popcount of one row AND the peers:
  a few hundred rows of ``users / 8`` bytes instead of a scatter per viewer. It costs
  ``items x users / 8`` bytes of memory, so it is made only under :data:`MAX_BYTES`; a bigger
  matrix (a million items) keeps :func:`gathered`, which is cheap there (few viewers per item).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mediarec.rank.slices import gather_slices

# The packed rows are made only when they fit in this (ML-1M: 3,706 items x 6,040 users = 2.8 MB).
MAX_BYTES = 64 << 20
# Rows unpacked at once while building (bounds the dense temporary to about this many bytes).
BUILD_CHUNK_BYTES = 16 << 20

_POPCOUNT = np.asarray([bin(k).count("1") for k in range(256)], dtype=np.uint8)


def _popcount_rows(rows: np.ndarray) -> np.ndarray:
    """Set bits per row of a 2-D uint8 array."""
    count = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    per_byte = count(rows) if count is not None else _POPCOUNT[rows]
    return np.asarray(per_byte.sum(axis=1, dtype=np.int64))


def gathered(seen: sp.csc_matrix, hist: np.ndarray, ranked: np.ndarray, own: int | None) -> np.ndarray:
    """Counts per model position of ``ranked`` (users x items CSC ``seen``; ``hist``: the user's
    model positions; ``own``: the user's row, not counted), by a mask over users."""
    indptr, indices = seen.indptr, seen.indices
    starts, lengths = indptr[hist], indptr[hist + 1] - indptr[hist]
    peers = np.zeros(seen.shape[0], dtype=bool)
    peers[gather_slices(indices, starts, lengths)] = True
    if own is not None:
        peers[own] = False
    return np.asarray(
        [np.count_nonzero(peers[indices[indptr[m] : indptr[m + 1]]]) for m in ranked.tolist()],
        dtype=np.int64,
    )


class CoviewerBits:
    """Each model item's viewers as a packed bit row (bit ``u`` of row ``m``: user row ``u``
    engaged with item ``m``), made from the same stored entries as :func:`gathered` reads."""

    def __init__(self, seen: sp.csc_matrix) -> None:
        n_users, n_items = seen.shape
        width = (n_users + 7) // 8
        self.rows = np.zeros((n_items, width), dtype=np.uint8)
        indptr, indices = seen.indptr, seen.indices
        chunk = max(1, BUILD_CHUNK_BYTES // max(n_users, 1))
        for start in range(0, n_items, chunk):
            stop = min(n_items, start + chunk)
            dense = np.zeros((stop - start, n_users), dtype=bool)
            lo, hi = indptr[start], indptr[stop]
            cols = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
            dense[cols, indices[lo:hi]] = True
            self.rows[start:stop] = np.packbits(dense, axis=1, bitorder="little")

    @staticmethod
    def fits(seen: sp.spmatrix) -> bool:
        n_users, n_items = seen.shape
        return n_items * ((n_users + 7) // 8) <= MAX_BYTES

    def counts(self, hist: np.ndarray, ranked: np.ndarray, own: int | None) -> np.ndarray:
        """The same counts as :func:`gathered`."""
        peers = np.bitwise_or.reduce(self.rows[hist], axis=0)
        if own is not None:
            peers[own >> 3] &= np.uint8(0xFF ^ (1 << (own & 7)))
        return _popcount_rows(self.rows[ranked] & peers)

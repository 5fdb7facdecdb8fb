"""External ids (the caller's strings) to the store's internal integer ids and back, shared by the
item, event and user mixins of :class:`mediarec.store.db.Store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mediarec.store.backend import Conn


def id_map(tx: Conn, table: str, ids: list[str]) -> dict[str, int]:
    """external id -> internal id for those of ``ids`` stored in ``table``."""
    out: dict[str, int] = {}
    if tx.dialect.postgresql:
        # One statement with an array: 500-placeholder IN lists made psycopg parse a new query
        # string per chunk (a quarter of PostgreSQL's import time went to it).
        sql = f"SELECT external_id, id FROM {table} WHERE external_id = ANY(?)"
        # The driver's tuples: SQLAlchemy's row objects cost ~2 µs each, and an import reads a few
        # thousand per batch.
        return dict(tx.fetch_tuples(sql, [ids]))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for ext, iid in tx.execute(
            f"SELECT external_id, id FROM {table} WHERE external_id IN ({marks})", chunk
        ):
            out[ext] = iid
    return out


def id_lookup(conn: Conn, table: str) -> np.ndarray:
    """External ids indexed by internal id, so that a whole id column maps in one NumPy take."""
    rows = conn.fetch_tuples(f"SELECT id, external_id FROM {table}")
    if not rows:
        return np.asarray([], dtype=str)
    ids, ext = zip(*rows, strict=True)
    ext_arr = np.asarray(ext, dtype=str)
    out = np.full(max(ids) + 1, "", dtype=ext_arr.dtype)
    out[np.asarray(ids, dtype=np.int64)] = ext_arr
    return out

"""Item features in the store: each extractor's stored output (payload and vector) per model version.

A mixin of :class:`mediarec.store.db.Store`, like items.py, events.py and users.py beside it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mediarec.store.errors import StoreError

if TYPE_CHECKING:
    from mediarec.store.backend import Conn

T = TypeVar("T")


class FeatureTables:
    """``item_features`` reads and writes; needs the store's ``conn`` and ``transaction``."""

    if TYPE_CHECKING:

        @property
        def conn(self) -> Conn: ...

        def transaction(self) -> AbstractContextManager[Conn]: ...

        def write(self, fn: Callable[[Conn], T], attempts: int = 6) -> T: ...

    def feature_keys(self, item: str) -> dict[str, set[str]]:
        """extractor -> stored versions for one item: what the pipeline may skip."""
        rows = self.conn.execute(
            """SELECT f.extractor, f.model_version FROM item_features f JOIN items i ON i.id = f.item_id
               WHERE i.external_id = ?""",
            (item,),
        )
        out: dict[str, set[str]] = {}
        for extractor, version in rows:
            out.setdefault(extractor, set()).add(version)
        return out

    def feature(
        self, item: str, extractor: str, model_version: str
    ) -> tuple[dict[str, Any], np.ndarray | None] | None:
        row = self.conn.execute(
            """SELECT f.payload, f.vector FROM item_features f JOIN items i ON i.id = f.item_id
               WHERE i.external_id = ? AND f.extractor = ? AND f.model_version = ?""",
            (item, extractor, model_version),
        ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), (
            None if row[1] is None else np.frombuffer(row[1], dtype=np.float32).copy()
        )

    def latest_features(
        self, extractors: Sequence[str]
    ) -> list[tuple[int, str, dict[str, Any], np.ndarray | None]]:
        """The newest feature of each (item, extractor) among ``extractors``, in one query:
        (internal item id, extractor, payload, vector)."""
        if not extractors:
            return []
        marks = ",".join("?" * len(extractors))
        rows = self.conn.execute(
            f"""SELECT item_id, extractor, payload, vector FROM item_features
                WHERE extractor IN ({marks}) ORDER BY created, id""",
            list(extractors),
        )
        newest: dict[tuple[int, str], tuple[str, bytes | None]] = {}
        for item_id, extractor, payload, vector in rows:
            newest[(int(item_id), str(extractor))] = (payload, vector)  # later rows are newer
        return [
            (item, ext, json.loads(p), None if v is None else np.frombuffer(v, dtype=np.float32).copy())
            for (item, ext), (p, v) in newest.items()
        ]

    def add_feature(
        self,
        item: str,
        extractor: str,
        model_version: str,
        payload: dict[str, Any] | None = None,
        vector: np.ndarray | None = None,
    ) -> None:
        """Store one extractor's output; a new ``model_version`` adds a row, the same one replaces it."""
        self.add_features([(item, extractor, model_version, payload, vector)])

    def add_features(
        self, rows: Sequence[tuple[str, str, str, dict[str, Any] | None, np.ndarray | None]]
    ) -> None:
        """:meth:`add_feature` for many (item, extractor, model_version, payload, vector) rows in one
        transaction: a commit per vector capped a durable PostgreSQL at ~1,300 vectors/s. All or
        nothing: an unknown item fails the whole batch."""
        if not rows:
            return
        now = time.time()
        prepared = []
        for item, extractor, model_version, payload, vector in rows:
            blob = None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
            dim = None if vector is None else int(np.asarray(vector).size)
            prepared.append((item, extractor, model_version, json.dumps(payload or {}), blob, dim))

        def run(tx: Conn) -> None:
            ids: dict[str, int] = {}
            for item in dict.fromkeys(r[0] for r in prepared):
                row = tx.execute("SELECT id FROM items WHERE external_id = ?", (item,)).fetchone()
                if row is None:
                    raise StoreError(f"unknown item {item!r}")
                ids[item] = row[0]
            tx.executemany(
                """INSERT INTO item_features
                     (item_id, extractor, model_version, payload, vector, dim, created)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (item_id, extractor, model_version) DO UPDATE SET
                     payload = excluded.payload, vector = excluded.vector, dim = excluded.dim,
                     created = excluded.created""",
                [(ids[r[0]], *r[1:], now) for r in prepared],
            )

        self.write(run)

    def feature_versions(self, item: str, extractor: str) -> list[str]:
        rows = self.conn.execute(
            """SELECT f.model_version FROM item_features f JOIN items i ON i.id = f.item_id
               WHERE i.external_id = ? AND f.extractor = ? ORDER BY f.created, f.id""",
            (item, extractor),
        )
        return [r[0] for r in rows]

    def latest_feature(
        self, item: str, extractor: str
    ) -> tuple[str, dict[str, Any], np.ndarray | None] | None:
        row = self.conn.execute(
            """SELECT f.model_version, f.payload, f.vector FROM item_features f
               JOIN items i ON i.id = f.item_id WHERE i.external_id = ? AND f.extractor = ?
               ORDER BY f.created DESC, f.id DESC LIMIT 1""",
            (item, extractor),
        ).fetchone()
        if row is None:
            return None
        vector = None if row[2] is None else np.frombuffer(row[2], dtype=np.float32).copy()
        return row[0], json.loads(row[1]), vector

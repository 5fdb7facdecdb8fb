"""The catalogue in the store: items (upserts from catalogues, media files found by content hash),
item lookups and pages, and the catalogue stamp that caches key on.

A mixin of :class:`mediarec.store.db.Store`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mediarec.records import ItemRecord
from mediarec.store.backend import Dialect
from mediarec.store.ids import id_map

if TYPE_CHECKING:
    from mediarec.store.backend import Conn

T = TypeVar("T")
SQLITE = Dialect("sqlite")


@dataclass(frozen=True)
class StoredItem:
    id: int
    external_id: str
    title: str
    kind: str
    duration: float | None
    uri: str | None
    creator: str | None
    metadata: dict[str, Any]
    created: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.external_id,
            "title": self.title,
            "kind": self.kind,
            "duration": self.duration,
            "uri": self.uri,
            "creator": self.creator,
            "metadata": self.metadata,
            "created": self.created,
        }


_ITEM_COLS = "id, external_id, title, kind, duration, uri, creator, metadata, created"


def _item(row: Sequence[Any]) -> StoredItem:
    return StoredItem(
        id=row[0],
        external_id=row[1],
        title=row[2],
        kind=row[3],
        duration=row[4],
        uri=row[5],
        creator=row[6],
        metadata=json.loads(row[7]),
        created=row[8],
    )


class ItemTables:
    """``items`` reads and writes; needs the store's ``conn``, ``dialect`` and ``write``."""

    if TYPE_CHECKING:
        dialect: Dialect

        @property
        def conn(self) -> Conn: ...

        def write(self, fn: Callable[[Conn], T], attempts: int = 6) -> T: ...

    def upsert_items(self, records: Sequence[ItemRecord]) -> int:
        """Insert or update items by external id; returns how many were new."""
        if not records:
            return 0
        now = time.time()

        def run(tx: Conn) -> int:
            ids = list(dict.fromkeys(r.external_id for r in records))
            before = len(id_map(tx, "items", ids))
            tx.executemany(
                """INSERT INTO items (external_id, title, kind, duration, uri, creator, metadata,
                                      created, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (external_id) DO UPDATE SET
                     title = excluded.title,
                     -- An ingested file's kind and duration were measured by the probe: a
                     -- catalogue's nominal figures must not overwrite them.
                     kind = CASE WHEN items.content_hash IS NULL THEN excluded.kind ELSE items.kind END,
                     duration = CASE WHEN items.content_hash IS NULL
                                     THEN coalesce(excluded.duration, items.duration)
                                     ELSE items.duration END,
                     uri = coalesce(excluded.uri, items.uri),
                     creator = coalesce(excluded.creator, items.creator),
                     metadata = json_patch(items.metadata, excluded.metadata),
                     updated = excluded.updated""",
                [
                    (
                        r.external_id,
                        r.title,
                        r.kind,
                        r.duration,
                        r.uri,
                        r.creator,
                        json.dumps(dict(r.metadata), ensure_ascii=False),
                        now,
                        now,
                    )
                    for r in records
                ],
            )
            return len(ids) - before

        return self.write(run)

    def register_media(self, content_hash: str, record: ItemRecord) -> tuple[str, bool]:
        """Find or create the item for a media file by its content hash.

        Renaming or moving a file keeps its item (only ``uri`` follows it). If ``record`` names an
        existing external id whose file content changed, that item takes the new hash and its
        content features are dropped, since they describe the old content. Returns (external id,
        created).
        """
        now = time.time()
        meta = json.dumps(dict(record.metadata), ensure_ascii=False)

        def run(tx: Conn) -> tuple[str, bool]:
            row = tx.execute(
                "SELECT external_id FROM items WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if row is not None:
                tx.execute(
                    "UPDATE items SET uri = ?, updated = ? WHERE content_hash = ?",
                    (record.uri, now, content_hash),
                )
                return str(row[0]), False
            row = tx.execute("SELECT id FROM items WHERE external_id = ?", (record.external_id,)).fetchone()
            if row is not None:
                tx.execute("DELETE FROM item_features WHERE item_id = ?", (row[0],))
                tx.execute(
                    """UPDATE items SET content_hash = ?, uri = ?, kind = ?, duration = ?, updated = ?,
                       title = CASE WHEN ? != '' THEN ? ELSE title END,
                       creator = coalesce(?, creator), metadata = json_patch(metadata, ?) WHERE id = ?""",
                    (
                        content_hash,
                        record.uri,
                        record.kind,
                        record.duration,
                        now,
                        record.title,
                        record.title,
                        record.creator,
                        meta,
                        row[0],
                    ),
                )
                return record.external_id, False
            tx.execute(
                """INSERT INTO items (external_id, content_hash, title, kind, duration, uri, creator,
                                      metadata, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    record.external_id,
                    content_hash,
                    record.title,
                    record.kind,
                    record.duration,
                    record.uri,
                    record.creator,
                    meta,
                    now,
                    now,
                ),
            )
            return record.external_id, True

        return self.write(run)

    def get_item(self, external_id: str) -> StoredItem | None:
        row = self.conn.execute(f"SELECT {_ITEM_COLS} FROM items WHERE external_id = ?", (external_id,))
        found = row.fetchone()
        return _item(found) if found else None

    def items_by_external_ids(self, external_ids: Iterable[str]) -> dict[str, StoredItem]:
        ids = list(dict.fromkeys(external_ids))
        out: dict[str, StoredItem] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {_ITEM_COLS} FROM items WHERE external_id IN ({marks})", chunk
            ):
                item = _item(row)
                out[item.external_id] = item
        return out

    def list_items(
        self,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
        creator: str | None = None,
        query: str | None = None,
        tag: str | None = None,
    ) -> list[StoredItem]:
        """A page of the catalogue; ``limit`` < 0 means every item (SQLite's ``LIMIT -1``, which
        PostgreSQL refuses: it says ``LIMIT ALL``)."""
        where, params = self._item_filter(kind, creator, query, tag, self.dialect)
        if limit < 0 and not self.dialect.sqlite:
            sql = f"SELECT {_ITEM_COLS} FROM items {where} ORDER BY id LIMIT ALL OFFSET ?"
            return [_item(r) for r in self.conn.execute(sql, [*params, offset])]
        sql = f"SELECT {_ITEM_COLS} FROM items {where} ORDER BY id LIMIT ? OFFSET ?"
        return [_item(r) for r in self.conn.execute(sql, [*params, limit, offset])]

    def count_items(
        self,
        kind: str | None = None,
        creator: str | None = None,
        query: str | None = None,
        tag: str | None = None,
    ) -> int:
        if tag and not (kind or creator or query):
            # The tag index alone answers this, ~10x faster than visiting each matching item row.
            sql = "SELECT count(DISTINCT item_id) FROM item_tags WHERE tag = ?"
            return int(self.conn.execute(sql, (tag.strip().lower(),)).fetchone()[0])
        where, params = self._item_filter(kind, creator, query, tag, self.dialect)
        return int(self.conn.execute(f"SELECT count(*) FROM items {where}", params).fetchone()[0])

    @staticmethod
    def _item_filter(
        kind: str | None,
        creator: str | None,
        query: str | None,
        tag: str | None = None,
        dialect: Dialect = SQLITE,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if kind:
            # Two kinds split the catalogue coarsely, yet SQLite (no ANALYZE statistics here) would
            # pick their index over a selective creator or tag; the unary plus keeps it off then.
            clauses.append(f"{dialect.unindexed('kind')} = ?" if creator or query or tag else "kind = ?")
            params.append(kind)
        if creator:
            clauses.append("creator = ?")
            params.append(creator)
        if query:
            clauses.append(f"title {dialect.like} ? ESCAPE '\\'")
            escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        if tag:
            # item_tags (migration 3) holds metadata and LLM tags lower-cased: an index lookup.
            clauses.append("id IN (SELECT item_id FROM item_tags WHERE tag = ?)")
            params.append(tag.strip().lower())
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def item_attributes(self) -> dict[str, tuple[str, str | None, float]]:
        """external id -> (kind, creator, created) for every item; the request-time filters read it."""
        rows = self.conn.execute("SELECT external_id, kind, creator, created FROM items")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def all_item_ids(self) -> np.ndarray:
        rows = self.conn.execute("SELECT external_id FROM items ORDER BY id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=str)

    def catalogue_stamp(self) -> tuple[Any, ...]:
        """Changes whenever an item or an item feature is added or updated; caches key on it."""
        # One scalar subquery per figure: each max() is then one index lookup (the primary keys,
        # items_updated, item_features_created); in one SELECT with count(*) both databases scan.
        # The count stays: on PostgreSQL an insert can commit after one with a higher id.
        row = self.conn.execute(
            """SELECT (SELECT count(*) FROM items), (SELECT max(id) FROM items),
                      (SELECT max(updated) FROM items), (SELECT max(id) FROM item_features),
                      (SELECT max(created) FROM item_features)"""
        ).fetchone()
        return tuple(row)

    def item_rows(self) -> list[tuple[int, str, str, str, str | None, float, str]]:
        """Every item as (internal id, external id, title, kind, creator, created, metadata JSON)."""
        rows = self.conn.execute(
            "SELECT id, external_id, title, kind, creator, created, metadata FROM items ORDER BY id"
        )
        return [tuple(r) for r in rows]

"""The embedded store: one SQLite file in WAL mode, with a typed read/write API.

Connections are per thread (SQLite objects must not cross threads); an async server funnels
its writes through :class:`mediarec.store.writer.Writer` so that only one thread ever writes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.pii import scrub_pii
from mediarec.records import EventRecord, ItemRecord
from mediarec.store.errors import StoreError
from mediarec.store.features import FeatureTables
from mediarec.store.imports import ImportLog
from mediarec.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from mediarec.store.profiles import ProfileStore

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class StoredEvent:
    user: str
    item: str
    type: str
    value: float | None
    ts: float
    comment: str | None


@dataclass(frozen=True)
class EventColumns:
    """All events as parallel arrays, the cheap form for building training matrices."""

    users: np.ndarray
    items: np.ndarray
    types: np.ndarray
    values: np.ndarray  # NaN where an event has no value
    times: np.ndarray


_ITEM_COLS = "id, external_id, title, kind, duration, uri, creator, metadata, created"


def _item(row: sqlite3.Row | tuple[Any, ...]) -> StoredItem:
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


def path_from_url(url: str) -> Path:
    """A store URL to a file path, as SQLAlchemy reads them: ``sqlite:///rel.db``, ``sqlite:////abs.db``."""
    if "://" not in url:
        return Path(url)
    scheme, _, rest = url.partition("://")
    if scheme != "sqlite":
        raise StoreError(
            f"store URL scheme {scheme!r} is not supported by this build; use sqlite:///PATH "
            "(the embedded default)"
        )
    if not rest.startswith("/"):
        raise StoreError(f"store URL {url!r} must look like sqlite:///PATH")
    return Path(rest[1:])


class Store(FeatureTables, ImportLog):
    """Typed access to the mediarec database file."""

    def __init__(self, path: str | Path, *, batch_size: int = 5000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.migrate()

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> Store:
        return cls(path_from_url(url), **kw)

    # -- connections -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten with zeros, not just unlinked, so a deleted user's text
            # does not live on in free pages of the file (see delete_user).
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> int:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this mediarec knows "
                f"({len(MIGRATIONS)}); upgrade mediarec"
            )
        for number in range(version, len(MIGRATIONS)):
            step = MIGRATIONS[number]
            with self.transaction() as tx:
                if callable(step):  # a migration SQL cannot express (see store/migrations.py)
                    step(tx, self.path)
                else:
                    for statement in _split_sql(step):
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")
        if version < len(MIGRATIONS) and version > 0:
            # A migration may have rewritten personal data (migration 7 scrubs old comments): the
            # WAL must not keep the rows as they were.
            self.checkpoint()
        return len(MIGRATIONS)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- items -------------------------------------------------------------------------------
    def upsert_items(self, records: Sequence[ItemRecord]) -> int:
        """Insert or update items by external id; returns how many were new."""
        if not records:
            return 0
        now = time.time()
        with self.transaction() as tx:
            before = tx.execute("SELECT count(*) FROM items").fetchone()[0]
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
            after = tx.execute("SELECT count(*) FROM items").fetchone()[0]
        return int(after - before)

    def register_media(self, content_hash: str, record: ItemRecord) -> tuple[str, bool]:
        """Find or create the item for a media file by its content hash.

        Renaming or moving a file keeps its item (only ``uri`` follows it). If ``record`` names an
        existing external id whose file content changed, that item takes the new hash and its
        content features are dropped, since they describe the old content. Returns (external id,
        created).
        """
        now = time.time()
        meta = json.dumps(dict(record.metadata), ensure_ascii=False)
        with self.transaction() as tx:
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
        where, params = self._item_filter(kind, creator, query, tag)
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
        where, params = self._item_filter(kind, creator, query, tag)
        return int(self.conn.execute(f"SELECT count(*) FROM items {where}", params).fetchone()[0])

    @staticmethod
    def _item_filter(
        kind: str | None, creator: str | None, query: str | None, tag: str | None = None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if kind:
            # Two kinds split the catalogue coarsely, yet SQLite (no ANALYZE statistics here) would
            # pick their index over a selective creator or tag; the unary plus keeps it off then.
            clauses.append("+kind = ?" if creator or query or tag else "kind = ?")
            params.append(kind)
        if creator:
            clauses.append("creator = ?")
            params.append(creator)
        if query:
            clauses.append("title LIKE ? ESCAPE '\\'")
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

    # -- users and events --------------------------------------------------------------------
    def _ensure_users(self, tx: sqlite3.Connection, external_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(external_ids))
        now = time.time()
        tx.executemany(
            "INSERT OR IGNORE INTO users (external_id, created) VALUES (?, ?)", [(u, now) for u in ids]
        )
        return self._id_map(tx, "users", ids)

    @staticmethod
    def _id_map(tx: sqlite3.Connection, table: str, ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for ext, iid in tx.execute(
                f"SELECT external_id, id FROM {table} WHERE external_id IN ({marks})", chunk
            ):
                out[ext] = iid
        return out

    def add_events(
        self, records: Sequence[EventRecord], *, create_missing_items: bool = False
    ) -> tuple[int, list[tuple[int, str]]]:
        """Append events in one transaction; duplicates of a stored event are ignored.

        Returns (inserted, rejected) where rejected lists (position in ``records``, reason) for
        events on unknown items, unless ``create_missing_items`` adds those items as bare entries.
        """
        if not records:
            return 0, []
        now = time.time()
        rejected: list[tuple[int, str]] = []
        with self.transaction() as tx:
            item_ids = list(dict.fromkeys(r.item for r in records))
            if create_missing_items:
                tx.executemany(
                    "INSERT OR IGNORE INTO items (external_id, title, created, updated) VALUES (?, ?, ?, ?)",
                    [(i, i, now, now) for i in item_ids],
                )
            items = self._id_map(tx, "items", item_ids)
            users = self._ensure_users(tx, (r.user for r in records if r.item in items))
            rows = []
            for pos, r in enumerate(records):
                iid = items.get(r.item)
                if iid is None:
                    rejected.append((pos, f"unknown item {r.item!r}"))
                    continue
                # Comments are kept without e-mail addresses and phone numbers, whoever wrote them in.
                comment = scrub_pii(r.comment) if r.comment else r.comment
                rows.append((users[r.user], iid, r.type, r.value, r.ts, comment))
            before = tx.total_changes
            tx.executemany(
                "INSERT OR IGNORE INTO interactions (user_id, item_id, type, value, ts, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            inserted = tx.total_changes - before
        return inserted, rejected

    def event_columns(self, since: float | None = None) -> EventColumns:
        """Every event (or those after ``since``) as arrays of external ids."""
        conn = self.conn
        users = _id_lookup(conn, "users")
        items = _id_lookup(conn, "items")
        # Missing values come out as +inf (SQLite reads 9e999 as infinity) so that the column
        # converts to floats in one step; they become NaN below.
        sql = "SELECT user_id, item_id, type, ifnull(value, 9e999), ts FROM interactions"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE ts > ?"
            params = (since,)
        rows = conn.execute(sql, params).fetchall()
        if not rows:
            empty = np.asarray([], dtype=str)
            return EventColumns(empty, empty, empty, np.asarray([], float), np.asarray([], float))
        uid, iid, typ, val, ts = zip(*rows, strict=True)
        values = np.asarray(val, dtype=np.float64)
        values[np.isinf(values)] = np.nan
        return EventColumns(
            users=users[np.asarray(uid, dtype=np.int64)],
            items=items[np.asarray(iid, dtype=np.int64)],
            types=np.asarray(typ, dtype=str),
            values=values,
            times=np.asarray(ts, dtype=np.float64),
        )

    def user_events(self, user: str, limit: int | None = None) -> list[StoredEvent]:
        sql = """SELECT u.external_id, i.external_id, e.type, e.value, e.ts, e.comment
                 FROM interactions e JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id
                 WHERE u.external_id = ? ORDER BY e.ts DESC, e.id DESC"""
        params: list[Any] = [user]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [StoredEvent(*r) for r in self.conn.execute(sql, params)]

    def seen_items(self, user: str) -> set[str]:
        rows = self.conn.execute(
            """SELECT DISTINCT i.external_id FROM interactions e
               JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id
               WHERE u.external_id = ?""",
            (user,),
        )
        return {r[0] for r in rows}

    def user_event_rows(self, user: str) -> list[tuple[int, int, str, float | None, float]]:
        """One user's events as (event id, internal item id, type, value, ts), for request-time
        ranking: the (user_id, ...) unique index serves it without touching other users' rows."""
        rows = self.conn.execute(
            """SELECT e.id, e.item_id, e.type, e.value, e.ts FROM interactions e
               JOIN users u ON u.id = e.user_id WHERE u.external_id = ?""",
            (user,),
        )
        return [(int(r[0]), int(r[1]), str(r[2]), r[3], float(r[4])) for r in rows]

    def catalogue_stamp(self) -> tuple[Any, ...]:
        """Changes whenever an item or an item feature is added or updated; caches key on it."""
        items = self.conn.execute("SELECT count(*), max(id), max(updated) FROM items").fetchone()
        feats = self.conn.execute("SELECT max(id), max(created) FROM item_features").fetchone()
        return (*items, *feats)

    def item_rows(self) -> list[tuple[int, str, str, str, str | None, float, str]]:
        """Every item as (internal id, external id, title, kind, creator, created, metadata JSON)."""
        rows = self.conn.execute(
            "SELECT id, external_id, title, kind, creator, created, metadata FROM items ORDER BY id"
        )
        return [tuple(r) for r in rows]

    def recent_item_events(self, window_seconds: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Engagement (skips left out) within ``window_seconds`` of the newest event: (newest ts,
        internal user ids, internal item ids, times)."""
        conn = self.conn
        newest = conn.execute("SELECT max(ts) FROM interactions").fetchone()[0]
        if newest is None:
            empty = np.zeros(0, dtype=np.int64)
            return 0.0, empty, empty, np.zeros(0)
        since = float(newest) - window_seconds
        # The ts index pays off for a narrow window; for one holding most events (a dataset whose
        # times are history positions, say) a plain scan avoids a random row lookup per event.
        in_window = conn.execute("SELECT count(*) FROM interactions WHERE ts >= ?", (since,)).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
        hint = "NOT INDEXED" if in_window > 0.2 * total else ""
        rows = conn.execute(
            f"SELECT user_id, item_id, ts FROM interactions {hint} WHERE ts >= ? AND type != 'skip'",
            (since,),
        ).fetchall()
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        return float(newest), arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]

    def newest_event_id(self) -> int:
        return int(self.conn.execute("SELECT ifnull(max(id), 0) FROM interactions").fetchone()[0])

    def user_exists(self, user: str) -> bool:
        return self.conn.execute("SELECT 1 FROM users WHERE external_id = ?", (user,)).fetchone() is not None

    def delete_user(self, user: str) -> int:
        """Remove a user and (by cascade) their events and taste profile; returns events removed.

        The rows are zeroed in place (``secure_delete``) and the WAL is checkpointed and truncated
        at once, so no byte of the user stays in the database files after this returns. A trigger
        moves :meth:`deletion_stamp`, which running servers watch.
        """
        with self.transaction() as tx:
            row = tx.execute("SELECT id FROM users WHERE external_id = ?", (user,)).fetchone()
            if row is None:
                return 0
            n = tx.execute("SELECT count(*) FROM interactions WHERE user_id = ?", (row[0],)).fetchone()[0]
            tx.execute("DELETE FROM users WHERE id = ?", (row[0],))
        if not self.checkpoint():
            self._checkpoint_soon()
        return int(n)

    def _checkpoint_soon(self, seconds: float = 120.0) -> None:
        """Keep trying the checkpoint on a thread of its own (its own connection) until the
        readers that held it back are done, so a deletion never waits in the WAL for long."""

        def retry() -> None:
            conn = sqlite3.connect(self.path, timeout=0.2, isolation_level=None)
            try:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    if not conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                        return
                    time.sleep(0.5)
                log.warning("%s-wal is still held by a reader; the next checkpoint empties it", self.path)
            except sqlite3.Error as exc:
                log.warning("checkpoint of %s failed: %s", self.path, exc)
            finally:
                conn.close()

        threading.Thread(target=retry, name="mediarec-checkpoint", daemon=True).start()

    def checkpoint(self, attempts: int = 5) -> bool:
        """Copy the WAL into the database file and truncate it to zero bytes, so that older page
        images (a deleted user's rows among them) do not wait there for a later checkpoint.

        A reader in the middle of a query holds the checkpoint back; each try waits for it up to
        0.2 s (not the usual busy timeout: the single writer must not stall behind a slow reader),
        for about 1.3 s in all. Returns whether the WAL was emptied.
        """
        conn = self.conn
        conn.execute("PRAGMA busy_timeout=200")
        try:
            for attempt in range(attempts):
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                if not busy:
                    return True
                time.sleep(0.1 * (attempt + 1) / attempts)
        finally:
            conn.execute("PRAGMA busy_timeout=30000")
        return False

    def existing_users(self, external_ids: Iterable[str]) -> set[str]:
        """Those of ``external_ids`` that are stored users."""
        return set(self._id_map(self.conn, "users", list(external_ids)))

    def deletion_stamp(self) -> int:
        """Moves whenever a user is deleted, by any process; one indexed row, cheap to poll."""
        row = self.conn.execute("SELECT value FROM store_stamps WHERE name = 'deletions'").fetchone()
        return int(row[0]) if row else 0

    def user_token(self, user: str) -> tuple[int, float] | None:
        """(internal id, created) of the user, or None: which incarnation of the id this is.

        Work that reads a user and writes something derived later (a profile, a cached LLM answer)
        takes the token first and writes only if :meth:`user_alive` still finds the same one, so a
        deletion in between wins, even when the id is used again by a new user at once.
        """
        row = self.conn.execute("SELECT id, created FROM users WHERE external_id = ?", (user,)).fetchone()
        return (int(row[0]), float(row[1])) if row else None

    @staticmethod
    def user_alive(conn: sqlite3.Connection, user: str, token: tuple[int, float] | None) -> bool:
        """Whether ``user`` still exists as the incarnation ``token`` names (see :meth:`user_token`);
        pass the connection of a write transaction to keep the answer true until it commits."""
        if token is None:
            return False
        row = conn.execute("SELECT id, created FROM users WHERE external_id = ?", (user,)).fetchone()
        return row is not None and (int(row[0]), float(row[1])) == token

    @property
    def profiles(self) -> ProfileStore:
        """Taste profiles and the users' edits of them (:mod:`mediarec.store.profiles`)."""
        from mediarec.store.profiles import ProfileStore

        return ProfileStore(self)

    # -- overview ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("items", "users", "interactions", "item_features"):
            out[table] = int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return out


def _id_lookup(conn: sqlite3.Connection, table: str) -> np.ndarray:
    """External ids indexed by internal id, so that a whole id column maps in one NumPy take."""
    rows = conn.execute(f"SELECT id, external_id FROM {table}").fetchall()
    if not rows:
        return np.asarray([], dtype=str)
    ids, ext = zip(*rows, strict=True)
    ext_arr = np.asarray(ext, dtype=str)
    out = np.full(max(ids) + 1, "", dtype=ext_arr.dtype)
    out[np.asarray(ids, dtype=np.int64)] = ext_arr
    return out


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (no semicolons inside literals). Pieces are joined until
    SQLite calls them complete, so a trigger's ``BEGIN ... END`` body stays one statement."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip().removesuffix(";").strip()
            if statement and not statement.startswith("--"):
                out.append(statement)
            pending = ""
    return out

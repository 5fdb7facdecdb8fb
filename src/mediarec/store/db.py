"""The store: one SQLite file in WAL mode (the embedded default) or a PostgreSQL database, chosen by
URL, with a typed read/write API over SQLAlchemy (:mod:`mediarec.store.backend`).

Connections are per thread (SQLite objects must not cross threads) and in autocommit mode between
the explicit transactions of :meth:`Store.transaction`; an async server funnels its writes through
:class:`mediarec.store.writer.Writer` so that only one thread of a process ever writes. Several
processes may write to one PostgreSQL store: identity keys are kept by ``ON CONFLICT`` and a
transaction that loses a race (deadlock, serialization failure, a unique key taken first) is run again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy.exc import DBAPIError

from mediarec.pii import scrub_pii
from mediarec.records import EventRecord, ItemRecord
from mediarec.store.backend import (
    RETRY_CODES,
    Conn,
    Dialect,
    make_engine,
    normalise_url,
    pg_error_code,
    safe_url,
)
from mediarec.store.errors import StoreError
from mediarec.store.features import FeatureTables
from mediarec.store.imports import ImportLog
from mediarec.store.migrations import MIGRATIONS, split_sql
from mediarec.store.stamps import StampMemo

T = TypeVar("T")
SQLITE = Dialect("sqlite")

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


def path_from_url(url: str) -> Path:
    """An SQLite store URL to its file path, as SQLAlchemy reads them: ``sqlite:///rel.db``,
    ``sqlite:////abs.db``. A PostgreSQL URL has no file: StoreError."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database is None:
        raise StoreError(f"store URL {safe_url(parsed)!r} names no SQLite file")
    return Path(parsed.database)


class _ThreadToken:
    """Lives exactly as long as one thread's connection slot in :attr:`Store.conn`."""


def _release(store_ref: weakref.ref[Store], conn_ref: weakref.ref[Conn]) -> None:
    """Close the connection of a thread that ended (its store and connection may be gone already)."""
    store, conn = store_ref(), conn_ref()
    if conn is None:
        return
    if store is not None:
        with store._lock:
            if conn in store._all:
                store._all.remove(conn)
    try:
        conn.close()
    except Exception:  # a server that went away
        log.debug("closing a store connection failed", exc_info=True)


class Store(FeatureTables, ImportLog):
    """Typed access to the mediarec store: an SQLite file (a path or ``sqlite:///PATH``) or a
    PostgreSQL database (``postgresql://user:password@host/db``)."""

    def __init__(self, path: str | Path, *, batch_size: int = 5000) -> None:
        self.url = normalise_url(path)
        self.dialect = Dialect("sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql")
        # The file of an SQLite store; for PostgreSQL a stand-in that names the database (password
        # hidden), used only as a key and in messages.
        self.path = Path(self.url.database or "") if self.dialect.sqlite else Path(safe_url(self.url))
        self.batch_size = batch_size
        self.engine = make_engine(self.url)
        self._local = threading.local()
        self._all: list[Conn] = []
        # Re-entrant: a release runs from a finalizer whenever a thread's slot is dropped, and must
        # never wait on a block of the same thread.
        self._lock = threading.RLock()
        self.migrate()

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> Store:
        return cls(url, **kw)

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    # -- connections -------------------------------------------------------------------------
    @property
    def conn(self) -> Conn:
        """This thread's connection; autocommit outside :meth:`transaction`."""
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                sa = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except DBAPIError as exc:
                raise StoreError(f"cannot open the store {self.display_url}: {exc.orig}") from None
            conn = Conn(sa, self.dialect)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
            # A thread's local storage is dropped when the thread ends; so is this token, and the
            # connection goes back (to the pool on PostgreSQL) instead of staying open until close():
            # a server's request threads come and go, and each used to keep one open for good.
            token = _ThreadToken()
            # Not at interpreter exit (sockets close with the process; a forked child must not
            # send anything on its parent's connections).
            weakref.finalize(token, _release, weakref.ref(self), weakref.ref(conn)).atexit = False
            self._local.token = token
        return conn

    def close(self) -> None:
        with self._lock:
            memo = self.__dict__.pop("_memo", None)
            if isinstance(memo, StampMemo):
                memo.close()
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # a connection of a thread that is gone, or a server that went away
                    log.debug("closing a store connection failed", exc_info=True)
            self._all.clear()
        self._local = threading.local()
        # Pooled connections (PostgreSQL) that threads gave back; the engine stays usable.
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """This thread's connection inside one transaction (SQLite: BEGIN IMMEDIATE, the write lock);
        committed at the end, rolled back on an exception."""
        conn = self.conn
        conn.execute(self.dialect.begin)
        try:
            yield conn
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except DBAPIError:
                log.debug("rollback failed", exc_info=True)
            raise
        conn.execute("COMMIT")

    def write(self, fn: Callable[[Conn], T], attempts: int = 6) -> T:
        """``fn(tx)`` in a transaction; on PostgreSQL run again when it lost a race with another
        process (deadlock, serialization failure, a unique key the other committed first), so that
        concurrent writers neither fail nor duplicate. ``fn`` must be safe to repeat."""
        for attempt in range(attempts):
            try:
                with self.transaction() as tx:
                    return fn(tx)
            except DBAPIError as exc:
                if self.dialect.sqlite or pg_error_code(exc) not in RETRY_CODES or attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def migrate(self) -> int:
        """Bring the schema up to date (legacy migrations for old SQLite homes, then Alembic)."""
        from mediarec.store.upgrade import upgrade_store

        try:
            rewrote = upgrade_store(self.engine, self.path if self.dialect.sqlite else None)
        except DBAPIError as exc:
            raise StoreError(f"cannot open the store {self.display_url}: {exc.orig}") from None
        if rewrote:
            # A migration may have rewritten personal data (migration 7 scrubs old comments): the
            # WAL must not keep the rows as they were.
            self.checkpoint()
        return len(MIGRATIONS)

    @property
    def schema_version(self) -> int:
        """The legacy migration count the schema matches (Alembic's first revision equals 7)."""
        if self.dialect.sqlite:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        return len(MIGRATIONS)

    # -- items -------------------------------------------------------------------------------
    def upsert_items(self, records: Sequence[ItemRecord]) -> int:
        """Insert or update items by external id; returns how many were new."""
        if not records:
            return 0
        now = time.time()

        def run(tx: Conn) -> int:
            ids = list(dict.fromkeys(r.external_id for r in records))
            before = len(self._id_map(tx, "items", ids))
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

    # -- users and events --------------------------------------------------------------------
    def _ensure_users(self, tx: Conn, external_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(external_ids))
        now = time.time()
        # Only the missing ones are inserted: a conflicting insert still costs a lookup and, on
        # PostgreSQL, a wait on whoever holds that key.
        known = self._id_map(tx, "users", ids)
        # Sorted: concurrent writers (an import's writer threads, other processes) then take the new
        # keys' locks in one order and cannot deadlock on them.
        missing = sorted((u, now) for u in ids if u not in known)
        if missing:
            tx.executemany(
                "INSERT INTO users (external_id, created) VALUES (?, ?) ON CONFLICT DO NOTHING", missing
            )
            known.update(self._id_map(tx, "users", [u for u, _ in missing]))
        return known

    @staticmethod
    def _id_map(tx: Conn, table: str, ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        if tx.dialect.postgresql:
            # One statement with an array: 500-placeholder IN lists made psycopg parse a new query
            # string per chunk (a quarter of PostgreSQL's import time went to it).
            sql = f"SELECT external_id, id FROM {table} WHERE external_id = ANY(?)"
            for ext, iid in tx.execute(sql, [ids]):
                out[ext] = iid
            return out
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
        if self.dialect.postgresql:
            # New users first, committed in a short transaction of their own. Inserted inside the
            # batch's transaction, a new user that another writer's batch also holds (the import's
            # second writer thread, another process) made that writer wait for this whole batch to
            # commit: events sorted by user share the boundary user between consecutive batches, and
            # the two import writers ran one at a time (docs/benchmarks.md, issue 10). The batch below
            # then finds them stored. A user created here whose batch fails after stays, without events.
            def users_first(tx: Conn) -> None:
                items = self._id_map(tx, "items", list(dict.fromkeys(r.item for r in records)))
                wanted = (r.user for r in records if create_missing_items or r.item in items)
                self._ensure_users(tx, wanted)

            self.write(users_first)

        def run(tx: Conn) -> tuple[int, list[tuple[int, str]]]:
            rejected: list[tuple[int, str]] = []
            item_ids = list(dict.fromkeys(r.item for r in records))
            items = self._id_map(tx, "items", item_ids)
            if create_missing_items and len(items) < len(item_ids):
                tx.executemany(
                    "INSERT INTO items (external_id, title, created, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [(i, i, now, now) for i in item_ids if i not in items],
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
            # The identity key decides, in the database: a concurrent writer's copy of the same event
            # (another process) is skipped here, never stored twice. rowcount sums over the rows.
            if not rows:
                return 0, rejected
            if self.dialect.postgresql:
                # The batch goes in by binary COPY into a per-session temporary table, then one
                # INSERT ... SELECT lets the identity key skip what is already stored (COPY itself has
                # no ON CONFLICT). A round trip per row would cap imports at a third of the speed.
                tx.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS import_events (user_id integer, item_id integer, "
                    "type text, value float8, ts float8, comment text) ON COMMIT DELETE ROWS"
                )
                tx.copy_rows("import_events", _EVENT_COLUMNS, _EVENT_PG_TYPES, _pg_rows(rows))
                result = tx.execute(
                    "INSERT INTO interactions (user_id, item_id, type, value, ts, comment) "
                    "SELECT user_id, item_id, type, value, ts, comment FROM import_events "
                    # Key order, so that two batches holding the same events lock them in one order.
                    "ORDER BY user_id, item_id, type, ts ON CONFLICT DO NOTHING"
                )
            else:
                result = tx.executemany(
                    "INSERT INTO interactions (user_id, item_id, type, value, ts, comment) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows,
                )
            return max(0, int(result.rowcount)), rejected

        return self.write(run)

    def event_columns(self, since: float | None = None) -> EventColumns:
        """Every event (or those after ``since``) as arrays of external ids."""
        conn = self.conn
        users = _id_lookup(conn, "users")
        items = _id_lookup(conn, "items")
        # Missing values (None) become NaN in the float conversion below.
        sql = "SELECT user_id, item_id, type, value, ts FROM interactions"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE ts > ?"
            params = (since,)
        rows = conn.fetch_tuples(sql, params)
        if not rows:
            empty = np.asarray([], dtype=str)
            return EventColumns(empty, empty, empty, np.asarray([], float), np.asarray([], float))
        uid, iid, typ, val, ts = zip(*rows, strict=True)
        values = np.asarray(val, dtype=np.float64)
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
        # The driver's tuples: SQLAlchemy's Row per event was 8% of a server's time on a miss.
        rows = self.conn.fetch_tuples(
            """SELECT e.id, e.item_id, e.type, e.value, e.ts FROM interactions e
               JOIN users u ON u.id = e.user_id WHERE u.external_id = ?""",
            (user,),
        )
        return [(int(r[0]), int(r[1]), str(r[2]), r[3], float(r[4])) for r in rows]

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
        hint = self.dialect.no_index_hint(in_window > 0.2 * total)
        rows = conn.fetch_tuples(
            f"SELECT user_id, item_id, ts FROM interactions {hint} WHERE ts >= ? AND type != 'skip'",
            (since,),
        )
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        return float(newest), arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]

    def newest_event_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM interactions").fetchone()[0])

    def user_exists(self, user: str) -> bool:
        return self.conn.execute("SELECT 1 FROM users WHERE external_id = ?", (user,)).fetchone() is not None

    def delete_user(self, user: str) -> int:
        """Remove a user and (by cascade) their events and taste profile; returns events removed.

        The rows are zeroed in place (``secure_delete``) and the WAL is checkpointed and truncated
        at once, so no byte of the user stays in the database files after this returns. A trigger
        moves :meth:`deletion_stamp`, which running servers watch.

        PostgreSQL keeps deleted row versions in the table files until VACUUM reclaims them, so
        the tables the user had rows in are vacuumed right after the delete commits (VACUUM marks
        the space free for reuse; the bytes are overwritten when it is reused, as PostgreSQL
        offers no zeroing of freed space; its WAL files hold the rows until they are recycled).
        """

        def run(tx: Conn) -> int | None:
            row = tx.execute(
                f"SELECT id FROM users WHERE external_id = ?{self.dialect.for_update}", (user,)
            ).fetchone()
            if row is None:
                return None
            n = tx.execute("SELECT count(*) FROM interactions WHERE user_id = ?", (row[0],)).fetchone()[0]
            tx.execute("DELETE FROM users WHERE id = ?", (row[0],))
            return int(n)

        n = self.write(run)
        if n is None:
            return 0
        if self.dialect.postgresql:
            self._vacuum_user_tables()
        elif not self.checkpoint():
            self._checkpoint_soon()
        return n

    def _vacuum_user_tables(self) -> None:
        for table in ("interactions", "user_profiles", "user_profile_edits", "users"):
            try:
                self.conn.execute(f"VACUUM {table}")  # autocommit: VACUUM cannot run in a transaction
            except DBAPIError as exc:  # a VACUUM already running on the table, say: the next one does it
                log.warning("VACUUM %s after a user deletion failed: %s", table, exc.orig)

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
        for about 1.3 s in all. Returns whether the WAL was emptied. PostgreSQL has no such file
        of ours to empty: True.
        """
        if not self.dialect.sqlite:
            return True
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

    def serving_stamps(self, user: str) -> tuple[Any, ...]:
        """What a cached ranking of ``user`` depends on in the store, in one indexed read: the
        deletion stamp, the user's incarnation (id, created), their event count and newest event id,
        the tags they removed from their profile, and last the newest event id of all (which the
        shared figures' refresh watches; it is not part of what the user's list depends on)."""
        memo = self._stamp_memo()
        return memo.get(user, self._serving_stamps) if memo is not None else self._serving_stamps(user)

    def peek_serving_stamps(self, user: str) -> tuple[Any, ...] | None:
        """:meth:`serving_stamps` when the answer is in memory and provably current (an SQLite file
        store whose ``data_version`` has not moved since they were read), else None. Never waits:
        for a caller on an event loop (store/stamps.py). PostgreSQL: always None."""
        memo = self.__dict__.get("_memo")
        return memo.peek(user) if isinstance(memo, StampMemo) else None

    def _stamp_memo(self) -> StampMemo | None:
        """SQLite file stores: the stamps remembered while nothing is committed (store/stamps.py)."""
        memo: StampMemo | bool | None = self.__dict__.get("_memo", False)
        if memo is False:
            file = self.dialect.sqlite and self.path.name not in ("", ":memory:") and self.path.is_file()
            memo = StampMemo(self.path) if file else None
            with self._lock:
                memo = self.__dict__.setdefault("_memo", memo)
        return memo if isinstance(memo, StampMemo) else None

    def _serving_stamps(self, user: str) -> tuple[Any, ...]:
        # Read on every request the memo cannot answer, cache hits included: the driver's tuple
        # (fetch_tuples) skips the ~35 µs SQLAlchemy spends building a Row's metadata for one row.
        (row,) = self.conn.fetch_tuples(
            """SELECT (SELECT value FROM store_stamps WHERE name = 'deletions'), u.id, u.created,
                      (SELECT count(*) FROM interactions e WHERE e.user_id = u.id),
                      (SELECT max(e.id) FROM interactions e WHERE e.user_id = u.id),
                      (SELECT p.removed_tags FROM user_profile_edits p WHERE p.user_id = u.id),
                      (SELECT coalesce(max(id), 0) FROM interactions)
               FROM (SELECT 1 AS one) AS o LEFT JOIN users u ON u.external_id = ?""",
            (user,),
        )
        return tuple(row)

    def user_token(self, user: str) -> tuple[int, float] | None:
        """(internal id, created) of the user, or None: which incarnation of the id this is.

        Work that reads a user and writes something derived later (a profile, a cached LLM answer)
        takes the token first and writes only if :meth:`user_alive` still finds the same one, so a
        deletion in between wins, even when the id is used again by a new user at once.
        """
        row = self.conn.execute("SELECT id, created FROM users WHERE external_id = ?", (user,)).fetchone()
        return (int(row[0]), float(row[1])) if row else None

    @staticmethod
    def user_alive(conn: Conn, user: str, token: tuple[int, float] | None) -> bool:
        """Whether ``user`` still exists as the incarnation ``token`` names (see :meth:`user_token`);
        pass the connection of a write transaction to keep the answer true until it commits (on
        PostgreSQL the user's row is locked for that, so a deletion waits)."""
        if token is None:
            return False
        row = conn.execute(
            f"SELECT id, created FROM users WHERE external_id = ?{conn.dialect.for_update}", (user,)
        ).fetchone()
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


_EVENT_COLUMNS = ("user_id", "item_id", "type", "value", "ts", "comment")
_EVENT_PG_TYPES = ("int4", "int4", "text", "float8", "float8", "text")


def _pg_rows(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Event rows with the Python types binary COPY needs (NumPy scalars and ints as floats fail)."""
    for uid, iid, typ, val, ts, comment in rows:
        yield int(uid), int(iid), typ, None if val is None else float(val), float(ts), comment


def _id_lookup(conn: Conn, table: str) -> np.ndarray:
    """External ids indexed by internal id, so that a whole id column maps in one NumPy take."""
    rows = conn.fetch_tuples(f"SELECT id, external_id FROM {table}")
    if not rows:
        return np.asarray([], dtype=str)
    ids, ext = zip(*rows, strict=True)
    ext_arr = np.asarray(ext, dtype=str)
    out = np.full(max(ids) + 1, "", dtype=ext_arr.dtype)
    out[np.asarray(ids, dtype=np.int64)] = ext_arr
    return out


# Kept under its old name for callers of the legacy migrations.
_split_sql = split_sql

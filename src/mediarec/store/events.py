"""Users' histories in the store: events appended in batches (users created as they first appear),
and the reads of them, all events as arrays for training or one user's for request-time ranking.

A mixin of :class:`mediarec.store.db.Store`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mediarec.pii import scrub_pii
from mediarec.records import EventRecord
from mediarec.store.ids import id_lookup, id_map

if TYPE_CHECKING:
    from mediarec.store.backend import Conn, Dialect

T = TypeVar("T")


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


@dataclass(frozen=True)
class UserEventColumns:
    """Some users' events as parallel arrays of internal ids (see ``events_of_users``)."""

    users: np.ndarray  # int64 internal user ids
    items: np.ndarray  # int64 internal item ids
    types: np.ndarray
    values: np.ndarray  # NaN where an event has no value


# Rows per NumPy conversion of a bulk read's tuples (one C call holding the GIL: ~7 ms each).
CONVERT_SLICE = 20_000

# Batches at least this big try the direct COPY (an import's); an API's few events keep the
# temporary table, where a client's repeated event is skipped without a failed statement.
DIRECT_COPY_MIN_ROWS = 500
DIRECT_COPY_MAX_SKIP = 64

_EVENT_COLUMNS = ("user_id", "item_id", "type", "value", "ts", "comment")
_EVENT_PG_TYPES = ("int4", "int4", "text", "float8", "float8", "text")


def _pg_rows(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Event rows with the Python types binary COPY needs (NumPy scalars and ints as floats fail)."""
    for uid, iid, typ, val, ts, comment in rows:
        yield int(uid), int(iid), typ, None if val is None else float(val), float(ts), comment


def _scrubbed(comment: str | None) -> str | None:
    # Comments are kept without e-mail addresses and phone numbers, whoever wrote them in.
    return scrub_pii(comment) if comment else comment


class EventTables:
    """``interactions`` (and the ``users`` its writes create) reads and writes; needs the store's
    ``conn``, ``dialect`` and ``write``."""

    if TYPE_CHECKING:
        dialect: Dialect

        @property
        def conn(self) -> Conn: ...

        def write(self, fn: Callable[[Conn], T], attempts: int = 6) -> T: ...

    def _ensure_users(self, tx: Conn, external_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(external_ids))
        now = time.time()
        # Only the missing ones are inserted: a conflicting insert still costs a lookup and, on
        # PostgreSQL, a wait on whoever holds that key.
        known = id_map(tx, "users", ids)
        # Sorted: concurrent writers (an import's writer threads, other processes) then take the new
        # keys' locks in one order and cannot deadlock on them.
        missing = sorted((u, now) for u in ids if u not in known)
        if missing:
            tx.executemany(
                "INSERT INTO users (external_id, created) VALUES (?, ?) ON CONFLICT DO NOTHING", missing
            )
            known.update(id_map(tx, "users", [u for u, _ in missing]))
        return known

    def add_events(
        self, records: Sequence[EventRecord], *, create_missing_items: bool = False
    ) -> tuple[int, list[tuple[int, str]]]:
        """Append events in one transaction; duplicates of a stored event are ignored.

        Returns (inserted, rejected) where rejected lists (position in ``records``, reason) for
        events on unknown items, unless ``create_missing_items`` adds those items as bare entries.
        """
        return self.add_event_columns(
            [r.user for r in records],
            [r.item for r in records],
            [r.type for r in records],
            [r.value for r in records],
            [r.ts for r in records],
            [r.comment for r in records],
            create_missing_items=create_missing_items,
        )

    def add_event_columns(
        self,
        users: Sequence[str],
        items: Sequence[str],
        types: Sequence[str],
        values: Sequence[float | None],
        times: Sequence[float],
        comments: Sequence[str | None],
        *,
        create_missing_items: bool = False,
    ) -> tuple[int, list[tuple[int, str]]]:
        """:meth:`add_events` for events given as parallel columns of valid records' fields (an
        import's batches: :class:`mediarec.datasets.event_chunk.EventChunk`), with no object per
        event; positions in ``rejected`` index the columns."""
        if not users:
            return 0, []
        now = time.time()
        wanted_items = list(dict.fromkeys(items))
        # Items are never deleted, so a batch's item ids read once hold for its whole write (a second
        # read of ~3,000 ids per batch was a tenth of PostgreSQL's import work).
        known: dict[str, int] = {}
        if self.dialect.postgresql:
            # New users first, committed in a short transaction of their own. Inserted inside the
            # batch's transaction, a new user that another writer's batch also holds (the import's
            # second writer thread, another process) made that writer wait for this whole batch to
            # commit: events sorted by user share the boundary user between consecutive batches, and
            # the two import writers ran one at a time (docs/benchmarks.md, issue 10). The batch below
            # then finds them stored. A user created here whose batch fails after stays, without events.
            def users_first(tx: Conn) -> None:
                known.update(id_map(tx, "items", wanted_items))
                if create_missing_items:
                    self._ensure_users(tx, users)
                else:
                    self._ensure_users(tx, (u for u, i in zip(users, items, strict=True) if i in known))

            self.write(users_first)

        def run(tx: Conn) -> tuple[int, list[tuple[int, str]]]:
            rejected: list[tuple[int, str]] = []
            item_ids = known if len(known) == len(wanted_items) else id_map(tx, "items", wanted_items)
            if create_missing_items and len(item_ids) < len(wanted_items):
                tx.executemany(
                    "INSERT INTO items (external_id, title, created, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [(i, i, now, now) for i in wanted_items if i not in item_ids],
                )
                item_ids = id_map(tx, "items", wanted_items)
            iids = [item_ids.get(i) for i in items]
            kept: Sequence[int] = range(len(iids))
            if None in iids:
                kept = [p for p, iid in enumerate(iids) if iid is not None]
                rejected = [(p, f"unknown item {items[p]!r}") for p, iid in enumerate(iids) if iid is None]
            user_ids = self._ensure_users(tx, (users[p] for p in kept))
            rows = [
                (
                    user_ids[users[p]],
                    iids[p],
                    types[p],
                    values[p],
                    times[p],
                    _scrubbed(comments[p]),
                )
                for p in kept
            ]
            # The identity key decides, in the database: a concurrent writer's copy of the same event
            # (another process) is skipped here, never stored twice. rowcount sums over the rows.
            if not rows:
                return 0, rejected
            if (
                self.dialect.postgresql
                and len(rows) >= DIRECT_COPY_MIN_ROWS
                and self._direct_copy_due()
                and self._copy_direct(tx, rows)
            ):
                return len(rows), rejected
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

    # A direct COPY that met a stored copy of one of its events sends this many following batches
    # through the temporary table (doubling, up to a limit, while they keep meeting them): a
    # re-run import meets them in every batch, and each failed COPY is a batch's work wasted.
    _direct_skip = 0
    _direct_backoff = 0

    def _direct_copy_due(self) -> bool:
        if self._direct_skip > 0:
            self._direct_skip -= 1
            return False
        return True

    def _copy_direct(self, tx: Conn, rows: list[tuple[Any, ...]]) -> bool:
        """PostgreSQL: the batch by binary COPY straight into ``interactions``; False (nothing
        stored, the transaction as before) when an event of it is already stored or being stored.

        The temporary table's detour costs the server about a sixth of its import work (a second
        COPY, a scan, a sort and the speculative inserts of ON CONFLICT; docs/benchmarks.md,
        issue 10). A fresh import's batches meet no stored event, so they go straight in; the
        identity key still decides: a duplicate makes the COPY fail, and the batch is undone to
        the savepoint and written through the temporary table, which skips what is stored.
        """
        import psycopg.errors

        tx.execute("SAVEPOINT import_direct")
        try:
            tx.copy_rows("interactions", _EVENT_COLUMNS, _EVENT_PG_TYPES, _pg_rows(rows))
        except (
            psycopg.errors.UniqueViolation,  # the event is stored (an earlier run, another writer)
            psycopg.errors.DeadlockDetected,  # another writer inserts the same events, in another order
        ):
            tx.execute("ROLLBACK TO SAVEPOINT import_direct")
            self._direct_backoff = min(DIRECT_COPY_MAX_SKIP, max(1, 2 * self._direct_backoff))
            self._direct_skip = self._direct_backoff
            return False
        tx.execute("RELEASE SAVEPOINT import_direct")
        self._direct_backoff = 0
        return True

    def event_columns(self, since: float | None = None) -> EventColumns:
        """Every event (or those after ``since``) as arrays of external ids."""
        conn = self.conn
        users = id_lookup(conn, "users")
        items = id_lookup(conn, "items")
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
        # Converted a slice at a time: one asarray of the 334 k rows of a 14-day window at 1 M items
        # held the GIL for ~0.1 s in one C call (every request of the process waited); a slice
        # takes a few ms and the other threads get the GIL between slices.
        step = CONVERT_SLICE
        parts = [np.asarray(rows[s : s + step], dtype=np.float64) for s in range(0, len(rows), step)]
        arr = np.concatenate(parts).reshape(-1, 3) if parts else np.zeros((0, 3))
        return float(newest), arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]

    def newest_event_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM interactions").fetchone()[0])

    # -- a sample of users (rank/audience.py: the taste vectors new-item audiences are cut from) --
    def user_population(self) -> tuple[int, int]:
        """(users stored, their largest internal id): what a uniform sample of users is drawn from,
        by primary key, without reading anybody's events."""
        row = self.conn.execute("SELECT count(*), coalesce(max(id), 0) FROM users").fetchone()
        return int(row[0]), int(row[1])

    def stored_user_ids(self, ids: Sequence[int]) -> set[int]:
        """Those of the internal user ids ``ids`` still stored (a deleted user's is not)."""
        return {int(r[0]) for r in self._by_user_ids("SELECT id FROM users WHERE id", "", ids)}

    def events_of_users(self, ids: Sequence[int]) -> UserEventColumns:
        """The events of the users with internal ids ``ids``, read through the (user_id, …) key's
        index rather than a scan of everyone's: at 2.1 M events the full read took 6-7 s, most of it
        holding the GIL. Each user's events come in the order they were stored (by event id)."""
        rows = self._by_user_ids(
            "SELECT user_id, item_id, type, value FROM interactions WHERE user_id",
            " ORDER BY user_id, id",
            ids,
        )
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return UserEventColumns(empty, empty, np.asarray([], dtype=str), np.zeros(0))
        uid, iid, typ, val = zip(*rows, strict=True)
        return UserEventColumns(
            users=np.asarray(uid, dtype=np.int64),
            items=np.asarray(iid, dtype=np.int64),
            types=np.asarray(typ, dtype=str),
            values=np.asarray(val, dtype=np.float64),  # None (no value) becomes NaN
        )

    def _by_user_ids(self, head: str, tail: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        conn = self.conn
        if self.dialect.postgresql:  # one statement with an array, whatever the count
            return conn.fetch_tuples(f"{head} = ANY(?){tail}", [wanted])
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):  # SQLite: bounded IN lists, in id order overall
            chunk = wanted[start : start + 500]
            out.extend(conn.fetch_tuples(f"{head} IN ({','.join('?' * len(chunk))}){tail}", chunk))
        return out

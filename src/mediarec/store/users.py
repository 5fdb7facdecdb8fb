"""Users in the store: whether one exists and which incarnation of its id it is, deleting one with
every byte of it, and the stamps a cached ranking of a user depends on.

A mixin of :class:`mediarec.store.db.Store`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError

from mediarec.store.ids import id_map
from mediarec.store.stamps import StampMemo

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from mediarec.store.backend import Conn, Dialect
    from mediarec.store.changes import ChangeCounter

T = TypeVar("T")
log = logging.getLogger(__name__)


class UserTables:
    """``users`` reads, deletion and serving stamps; needs the store's ``conn``, ``dialect``,
    ``path``, ``write``, ``checkpoint`` and its lock."""

    if TYPE_CHECKING:
        dialect: Dialect
        path: Path
        url: URL
        _changes: ChangeCounter | None
        change_bound: float
        _lock: threading.RLock

        @property
        def conn(self) -> Conn: ...

        def write(self, fn: Callable[[Conn], T], attempts: int = 6) -> T: ...

        def checkpoint(self, attempts: int = 5) -> bool: ...

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

    def existing_users(self, external_ids: Iterable[str]) -> set[str]:
        """Those of ``external_ids`` that are stored users."""
        return set(id_map(self.conn, "users", list(external_ids)))

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
        """:meth:`serving_stamps` when the answer is in memory and provably current (the store's
        version has not moved since they were read: SQLite's ``data_version``, PostgreSQL's change
        counter and notifications), else None. Never waits: for a caller on an event loop
        (store/stamps.py)."""
        memo = self.__dict__.get("_memo")
        return memo.peek(user) if isinstance(memo, StampMemo) else None

    def _stamp_memo(self) -> StampMemo | None:
        """SQLite file and PostgreSQL stores: the stamps remembered while nothing is committed
        (store/stamps.py); made on the first read, so only processes that serve keep a listener."""
        memo: StampMemo | bool | None = self.__dict__.get("_memo", False)
        if memo is False:
            with self._lock:
                memo = self.__dict__.get("_memo", False)
                if memo is False:
                    memo = self.__dict__["_memo"] = self._new_stamp_memo()
        return memo if isinstance(memo, StampMemo) else None

    def _new_stamp_memo(self) -> StampMemo | None:
        if self.dialect.postgresql:
            from mediarec.store.changes import PgChanges

            bound = self.change_bound
            if self._changes is None or bound <= 0:
                return None
            return StampMemo(PgChanges(self.url, self._changes, bound))
        file = self.path.name not in ("", ":memory:") and self.path.is_file()
        return StampMemo(self.path) if file else None

    def _serving_stamps(self, user: str) -> tuple[Any, ...]:
        # Read on every request the memo cannot answer, cache hits included: the driver's tuple
        # (fetch_tuples) skips the ~35 µs SQLAlchemy spends building a Row's metadata for one row.
        # PostgreSQL: ``max(e.id + 0)``, or its planner walks the primary key backwards from the
        # newest event until it meets one of the user's, which for a user whose events are old (an
        # import written user by user) is most of the table: 9.9 ms mean, p99 55 ms on ML-1M,
        # against 0.6 ms / 6 ms through the user's own index rows (docs/benchmarks.md, sixth pass).
        newest = "e.id + 0" if self.dialect.postgresql else "e.id"
        (row,) = self.conn.fetch_tuples(
            f"""SELECT (SELECT value FROM store_stamps WHERE name = 'deletions'), u.id, u.created,
                      (SELECT count(*) FROM interactions e WHERE e.user_id = u.id),
                      (SELECT max({newest}) FROM interactions e WHERE e.user_id = u.id),
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

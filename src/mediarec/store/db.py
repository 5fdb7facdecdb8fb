"""The store: one SQLite file in WAL mode (the embedded default) or a PostgreSQL database, chosen by
URL, with a typed read/write API over SQLAlchemy (:mod:`mediarec.store.backend`).

Connections are per thread (SQLite objects must not cross threads) and in autocommit mode between
the explicit transactions of :meth:`Store.transaction`; an async server funnels its writes through
:class:`mediarec.store.writer.Writer` so that only one thread of a process ever writes. Several
processes may write to one PostgreSQL store: identity keys are kept by ``ON CONFLICT`` and a
transaction that loses a race (deadlock, serialization failure, a unique key taken first) is run again.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError

from mediarec.store.backend import (
    RETRY_CODES,
    Conn,
    Dialect,
    make_engine,
    normalise_url,
    pg_error_code,
    safe_url,
)
from mediarec.store.changes import BOUND_SECONDS, counter_for
from mediarec.store.errors import StoreError
from mediarec.store.events import EventColumns, EventTables, StoredEvent
from mediarec.store.features import FeatureTables
from mediarec.store.imports import ImportLog
from mediarec.store.items import ItemTables, StoredItem
from mediarec.store.migrations import MIGRATIONS, split_sql
from mediarec.store.stamps import StampMemo
from mediarec.store.users import UserTables

# The records are defined beside their mixins; mediarec.store and older callers import them from here.
__all__ = ["EventColumns", "Store", "StoreError", "StoredEvent", "StoredItem", "path_from_url"]

T = TypeVar("T")

if TYPE_CHECKING:
    from mediarec.store.profiles import ProfileStore

log = logging.getLogger(__name__)


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


class Store(ItemTables, EventTables, UserTables, FeatureTables, ImportLog):
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
        # PostgreSQL: this host's commit counter of the store, bumped after every commit
        # (store/changes.py), so other processes here see a write before it is acknowledged.
        self._changes = counter_for(self.url) if self.dialect.postgresql else None
        # How old a write of another host may be while hits are still answered from memory
        # (setting serve_change_bound_seconds; 0: the stamps are read on every request).
        self.change_bound = BOUND_SECONDS
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
        try:
            conn.execute("COMMIT")
        finally:
            # Before the caller (and through it any client) hears of the write; also when COMMIT
            # failed on the way back, as the server may have committed (a needless miss at worst).
            if self._changes is not None:
                self._changes.bump()

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

    # -- maintenance -------------------------------------------------------------------------
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


# Kept under its old name for callers of the legacy migrations.
_split_sql = split_sql

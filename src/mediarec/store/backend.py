"""Store URL -> SQLAlchemy engine, and the one place that knows how SQLite and PostgreSQL differ.

``sqlite:///PATH`` (the embedded default) and ``postgresql://user:pass@host/db`` (psycopg 3) are the two
backends. The store's statements are plain SQL with ``?`` placeholders that both dialects accept;
:class:`Conn` hands them to the driver in its own parameter style, and the few things that have no
common spelling (the SQLite PRAGMAs, a planner hint, case-insensitive LIKE, row locks) are the flags
of :class:`Dialect`. Why not ``text()`` with named parameters everywhere: the same ``?`` statements
are also used by other modules and the tests through ``Store.conn``, and they keep working unchanged
on both backends; the driver-level call is also the cheapest SQLAlchemy offers, which an import of
millions of events notices.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from mediarec.store.errors import StoreError

BUSY_TIMEOUT_MS = 30000


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgresql"

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    @property
    def postgresql(self) -> bool:
        return self.name == "postgresql"

    @property
    def begin(self) -> str:
        # IMMEDIATE takes SQLite's write lock up front, so two writers queue instead of one failing
        # with "database is locked" when it upgrades a read lock. PostgreSQL locks rows as it goes.
        return "BEGIN IMMEDIATE" if self.sqlite else "BEGIN"

    @property
    def like(self) -> str:
        # SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is the same search.
        return "LIKE" if self.sqlite else "ILIKE"

    @property
    def for_update(self) -> str:
        # A row read inside a write transaction must hold until commit: SQLite's write lock already
        # covers the whole file, PostgreSQL needs the row lock.
        return "" if self.sqlite else " FOR UPDATE"

    def no_index_hint(self, on: bool) -> str:
        """SQLite's ``NOT INDEXED`` (a scan beats an index walk over most of a table); PostgreSQL's
        planner has statistics and decides alone."""
        return "NOT INDEXED" if on and self.sqlite else ""

    def cross_join(self) -> str:
        # SQLite plans a CROSS JOIN in the written order; PostgreSQL does not accept it with ON.
        return "CROSS JOIN" if self.sqlite else "JOIN"

    def unindexed(self, column: str) -> str:
        # SQLite's unary plus keeps a column's index out of the plan; PostgreSQL has no + on text.
        return f"+{column}" if self.sqlite else column


def normalise_url(url: str | Path) -> URL:
    """``sqlite:///PATH``, a bare path, or ``postgresql://...`` (any PostgreSQL driver name is mapped
    to psycopg 3, the one mediarec installs)."""
    text = str(url)
    if "://" not in text:
        return URL.create("sqlite", database=text)
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"store URL {text!r} is not a valid URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(f"store URL {text!r} must look like sqlite:///PATH")
        return parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"store URL scheme {parsed.drivername!r} is not supported; use sqlite:///PATH (the embedded "
        "default) or postgresql://user:password@host/database"
    )


def safe_url(url: URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


# PostgreSQL connections a process keeps for reuse, and how many more it may open at a busy moment.
# A thread holds one while it lives (``Store.conn``) and gives it back when it ends: a server's
# request threads (anyio ends one after 10 s without work, then starts another) and the short
# background refreshes reuse pooled connections instead of each opening one that stayed open
# until the store closed. 45 covers a server's 40 request threads and its few workers.
PG_POOL_SIZE = 45
PG_POOL_OVERFLOW = 55


def make_engine(url: URL) -> Engine:
    """The engine of a store URL. SQLite: no pool (a thread's connection is opened on its first use
    and closed when the thread ends, see ``Store.conn``); PostgreSQL: a pool of connections that
    threads take for their lifetime and give back, :data:`PG_POOL_SIZE` kept."""
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: each connection is used by one thread, but close() may come from another.
        args = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, poolclass=NullPool, connect_args=args)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError("a postgresql:// store needs psycopg 3: pip install 'mediarec[postgres]'") from None
    return create_engine(
        url,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_POOL_OVERFLOW,
        pool_timeout=30,
        # A pooled connection may have outlived a server restart: checked once as a thread takes it.
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10},
    )


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # The driver must not open transactions of its own: Store.transaction() says BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Deleted rows are overwritten with zeros, not just unlinked, so a deleted user's text does not
    # live on in free pages of the file (see Store.delete_user).
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


_QMARK = re.compile(r"\?")
FETCH_SLICE = 20_000  # rows per fetchmany() of a bulk read (about 10 ms of conversion each)


class Conn:
    """One SQLAlchemy connection (autocommit between the store's explicit transactions) that takes
    ``?`` statements on both backends: ``execute(sql, params)``, ``executemany(sql, rows)``.

    ``sa`` is the SQLAlchemy :class:`~sqlalchemy.engine.Connection` for Core constructs.
    """

    def __init__(self, sa: Connection, dialect: Dialect) -> None:
        self.sa = sa
        self.dialect = dialect
        self._cache: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        if self.dialect.sqlite:
            return sql
        out = self._cache.get(sql)
        if out is None:
            # psycopg's placeholders are %s, so a literal % must be doubled (LIKE patterns come as
            # parameters; no statement of the store has a ? inside a string literal).
            out = _QMARK.sub("%s", sql.replace("%", "%%"))
            if len(self._cache) < 2000:
                self._cache[sql] = out
        return out

    # Typed Any, as sqlite3's cursors are: rows are tuples of whatever the statement selects.
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if params is None or len(params) == 0:
            # No parameters: psycopg must not read % as a placeholder either.
            return self.sa.exec_driver_sql(sql if self.dialect.sqlite else sql.replace("%", "%%"), ())
        return self.sa.exec_driver_sql(self._sql(sql), tuple(params))

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a bulk read as the driver's plain tuples. SQLAlchemy's Row objects cost
        ~1 µs each to unpack, which at millions of events made a model's first request 50% slower
        than raw sqlite3; the driver's own cursor returns tuples directly."""
        cursor = self.sa.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if params:
                cursor.execute(self._sql(sql), tuple(params))
            else:
                cursor.execute(sql)
            # In slices: psycopg turns a whole result into tuples in one C call that holds the GIL,
            # so one fetchall() of a million events froze a server's other threads for ~0.5 s.
            out: list[tuple[Any, ...]] = []
            while rows := cursor.fetchmany(FETCH_SLICE):
                out.extend(rows)
            return out
        finally:
            cursor.close()

    def copy_rows(
        self, table: str, columns: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """PostgreSQL only: rows into ``table`` by binary ``COPY``, PostgreSQL's bulk-load path.

        psycopg formats binary rows in C; the array parameters of an ``unnest`` insert are dumped
        by Python code, which at millions of events cost a fifth of the import time.
        """
        cursor = self.sa.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cols = ", ".join(columns)
            with cursor.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(types))
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        batch = [tuple(r) for r in rows]
        if not batch:
            # Neither driver likes an empty executemany; nothing to do is nothing done.
            return self.sa.exec_driver_sql("SELECT 0 WHERE 1 = 0", ())
        return self.sa.exec_driver_sql(self._sql(sql), batch)

    def close(self) -> None:
        self.sa.close()


def pg_error_code(exc: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error wrapped by SQLAlchemy, else None."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) if orig is not None else None


# Serialization failure, deadlock, and a unique key another transaction took first (a read-then-insert
# such as register_media loses that race; run again, it finds the other's row).
RETRY_CODES = frozenset({"40001", "40P01", "23505"})

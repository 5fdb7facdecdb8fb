"""Serving stamps remembered while the store is unchanged: SQLite's ``PRAGMA data_version``, and its
PostgreSQL counterpart (store/changes.py).

Every request of the result cache reads the user's stamps (:meth:`Store.serving_stamps`): one
indexed query, about 45 µs on SQLite, a network round trip on PostgreSQL, on every hit. A *version*
of the whole store says more cheaply whether anything changed, and the stamps read for a user are
kept while it stays the same; all of them are dropped when it moves.

* SQLite: ``PRAGMA data_version`` on one connection returns a different value whenever any other
  connection, in this process or another, has committed since that connection last asked (a few
  µs; in WAL mode it reads the shared WAL index). The connection asking never writes, so every
  commit is another's.
* PostgreSQL (:class:`mediarec.store.changes.PgChanges`): a per-host counter that every mediarec
  process bumps after each commit and before the write returns (exact on this host), with the
  notifications a trigger sends on every write (other hosts: seen within
  ``changes.BOUND_SECONDS``, proven by the process's own heartbeats); "don't know" (None) while the
  listen connection is down or its heartbeat late, and then the stamps are read from the store.

Why this never serves stale stamps: the version is read before the stamps, so remembered stamps
describe the store at least as of the version they are filed under; a commit after that read moves
the version (on PostgreSQL: before its writer returns, when on this host; within the bound, when
on another), and every later request sees the new version, drops them and reads afresh. A request
that read the version just before a commit is concurrent with that commit, as a query run an
instant earlier would be.

:meth:`StampMemo.peek` is the same check for a caller on the server's event loop (a cache hit
answered without a thread hand-off): it never waits. SQLite's connection has no busy timeout, so the
rare moment a read transaction cannot start at once (a WAL being reset) is "don't know", not a
stall; PostgreSQL's check reads only memory and a socket that is never waited on. The thread path
(:meth:`StampMemo.get`) retries or reads the store instead.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

MAX_USERS = 50_000  # users remembered at once; about 200 bytes each
BUSY_SECONDS = 30.0  # how long the thread path retries a version read the store refuses (locked)


class VersionSource(Protocol):
    """Something that names the store's state: equal answers mean nothing was committed between
    them; None means "not known now" (nothing is remembered or served from memory then)."""

    def read(self, wait: bool = True) -> Any | None: ...

    def close(self) -> None: ...


class DataVersion:
    """SQLite's ``PRAGMA data_version`` on a connection of its own."""

    def __init__(self, path: Path) -> None:
        # Its own connection: data_version compares commits against *this* connection's last look,
        # and it must never be inside a transaction (autocommit) or write.
        # No busy timeout (see the module's docstring): peek() must not wait on the event loop.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=0)

    def read(self, wait: bool = True) -> int | None:
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.OperationalError as exc:  # "database is locked": only worth a retry here
                if not wait or "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)

    def close(self) -> None:
        self._conn.close()


class StampMemo:
    """Per-user stamps valid while the store's version (SQLite's ``data_version``, PostgreSQL's
    :class:`~mediarec.store.changes.PgChanges`) is unchanged."""

    def __init__(self, source: Path | VersionSource, size: int = MAX_USERS) -> None:
        self.source: VersionSource = DataVersion(source) if isinstance(source, Path) else source
        self._lock = threading.Lock()
        self._version: Any | None = None
        self._stamps: dict[str, tuple[Any, ...]] = {}
        self.size = size
        self.reads = 0  # stamps read from the store (misses of the memo), for tests and benchmarks

    def version(self) -> Any | None:
        with self._lock:
            return self._current()

    def _current(self, wait: bool = True) -> Any | None:
        version = self.source.read(wait)
        if version is None or version != self._version:
            self._stamps.clear()
            self._version = version
        return version

    def get(self, user: str, read: Callable[[str], tuple[Any, ...]]) -> tuple[Any, ...]:
        """``read(user)``'s answer as of now: remembered when nothing was committed since."""
        with self._lock:
            version = self._current()
            found = self._stamps.get(user)
        if found is not None:
            return found
        stamps = read(user)  # after the version read: at least as new as ``version``
        with self._lock:
            self.reads += 1
            if version is not None and self._version == version:
                if len(self._stamps) >= self.size:
                    self._stamps.clear()  # rare; a bound, not a policy worth an LRU's cost per hit
                self._stamps[user] = stamps
        return stamps

    def peek(self, user: str) -> tuple[Any, ...] | None:
        """The remembered stamps of ``user`` when nothing was committed since they were read, else
        None (not remembered, or the check could not be made without waiting); never blocks."""
        if not self._lock.acquire(blocking=False):  # get() holds it for microseconds: not worth a wait
            return None
        try:
            if self._current(wait=False) is None:
                return None
            return self._stamps.get(user)
        except sqlite3.Error:
            return None
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self.source.close()
            self._stamps.clear()

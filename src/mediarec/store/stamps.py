"""Serving stamps remembered while an SQLite store is unchanged (``PRAGMA data_version``).

Every request of the result cache reads the user's stamps (:meth:`Store.serving_stamps`): one
indexed query, about 45 µs, on every hit. SQLite says more cheaply whether *anything* changed:
``PRAGMA data_version`` on one connection returns a different value whenever any other connection,
in this process or another, has committed since that connection last asked (a few µs; in WAL mode it
reads the shared WAL index). So the stamps read for a user are kept while the value stays the same,
and all of them are dropped when it moves.

Why this never serves stale stamps: the version is read before the stamps, so remembered stamps
describe the store at least as of the version they are filed under; a commit after that read moves
the version, and every later request sees the new version, drops them and reads afresh. A request
that read the version just before a commit is concurrent with that commit, as a query run an
instant earlier would be. The connection asking never writes, so every commit is another's.

PostgreSQL has no such counter: a snapshot or commit-count query costs the same network round trip
as the stamps themselves, and statistics views lag; its stores keep reading the stamps per request.

:meth:`StampMemo.peek` is the same check for a caller on the server's event loop (a cache hit
answered without a thread hand-off): it never waits. Its connection has no busy timeout, so the rare
moment a read transaction cannot start at once (a WAL being reset) is "don't know", not a stall;
the thread path (:meth:`StampMemo.get`) retries instead.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_USERS = 50_000  # users remembered at once; about 200 bytes each
BUSY_SECONDS = 30.0  # how long the thread path retries a version read the store refuses (locked)


class StampMemo:
    """Per-user stamps valid while the store's ``data_version`` is unchanged."""

    def __init__(self, path: Path, size: int = MAX_USERS) -> None:
        # Its own connection: data_version compares commits against *this* connection's last look,
        # and it must never be inside a transaction (autocommit) or write.
        # No busy timeout (see the module's docstring): peek() must not wait on the event loop.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=0)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._stamps: dict[str, tuple[Any, ...]] = {}
        self.size = size
        self.reads = 0  # stamps read from the store (misses of the memo), for tests and benchmarks

    def version(self) -> int:
        with self._lock:
            return self._current()

    def _current(self, wait: bool = True) -> int:
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
                break
            except sqlite3.OperationalError as exc:  # "database is locked": only worth a retry here
                if not wait or "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)
        if version != self._version:
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
            if self._version == version:
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
            self._current(wait=False)
            return self._stamps.get(user)
        except sqlite3.Error:
            return None
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._stamps.clear()

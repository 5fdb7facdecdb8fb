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
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_USERS = 50_000  # users remembered at once; about 200 bytes each


class StampMemo:
    """Per-user stamps valid while the store's ``data_version`` is unchanged."""

    def __init__(self, path: Path, size: int = MAX_USERS) -> None:
        # Its own connection: data_version compares commits against *this* connection's last look,
        # and it must never be inside a transaction (autocommit) or write.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._stamps: dict[str, tuple[Any, ...]] = {}
        self.size = size
        self.reads = 0  # stamps read from the store (misses of the memo), for tests and benchmarks

    def version(self) -> int:
        with self._lock:
            return self._current()

    def _current(self) -> int:
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
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

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._stamps.clear()

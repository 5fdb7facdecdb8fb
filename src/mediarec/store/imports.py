"""Import runs in the store: when a file was read, its counts, and the rows it refused with why.

A mixin of :class:`mediarec.store.db.Store`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from mediarec.records import BadRow


class ImportLog:
    """``import_runs`` and ``import_errors``; needs the store's ``conn`` and ``transaction``."""

    if TYPE_CHECKING:

        @property
        def conn(self) -> sqlite3.Connection: ...

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def start_import(self, source: str, fmt: str) -> int:
        with self.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO import_runs (source, format, started) VALUES (?, ?, ?)",
                (source, fmt, time.time()),
            )
            return int(cur.lastrowid or 0)

    def add_import_errors(self, run_id: int, rows: Sequence[BadRow]) -> None:
        if not rows:
            return
        with self.transaction() as tx:
            tx.executemany(
                "INSERT INTO import_errors (run_id, file, line, reason, raw) VALUES (?, ?, ?, ?, ?)",
                [(run_id, b.source, b.line, b.reason, b.raw[:1000]) for b in rows],
            )

    def finish_import(self, run_id: int, status: str, counts: dict[str, int]) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE import_runs SET finished = ?, status = ?, counts = ? WHERE id = ?",
                (time.time(), status, json.dumps(counts), run_id),
            )

    def import_errors(self, run_id: int) -> list[BadRow]:
        rows = self.conn.execute(
            "SELECT file, line, reason, raw FROM import_errors WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [BadRow(*r) for r in rows]

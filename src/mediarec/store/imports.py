"""Import runs in the store: when a file was read, its counts, and the rows it refused with why.

A mixin of :class:`mediarec.store.db.Store`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from mediarec.pii import scrub_pii
from mediarec.records import BadRow

if TYPE_CHECKING:
    from mediarec.store.backend import Conn


class ImportLog:
    """``import_runs`` and ``import_errors``; needs the store's ``conn`` and ``transaction``."""

    if TYPE_CHECKING:

        @property
        def conn(self) -> Conn: ...

        def transaction(self) -> AbstractContextManager[Conn]: ...

    def start_import(self, source: str, fmt: str) -> int:
        """A new run in state 'running', owned by this process. Runs left 'running' by a process that
        is gone (killed, crashed, the machine restarted) are marked 'interrupted' first."""
        self.mark_interrupted_runs()
        with self.transaction() as tx:
            row = tx.execute(
                "INSERT INTO import_runs (source, format, started, pid, host) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id",
                (source, fmt, time.time(), os.getpid(), socket.gethostname()),
            ).fetchone()
            return int(row[0])

    def mark_interrupted_runs(self) -> list[int]:
        """Mark 'interrupted' every 'running' run whose process is gone; returns their ids.

        A run of this host is gone when its process id is free, or is now used by a process that
        started after the run did. A run of another host (a home on a shared drive) cannot be
        checked and is left alone. Runs from before migration 5 name no process: they are gone if
        they started before this process did, since no older mediarec can still be writing to a
        store this version has migrated.
        """
        here = socket.gethostname()
        me = _process_started(os.getpid()) or time.time()
        rows = self.conn.execute("SELECT id, started, pid, host FROM import_runs WHERE status = 'running'")
        gone = []
        for rid, started, pid, host in rows.fetchall():
            legacy = pid is None and started < me  # from before migration 5 (see above)
            if legacy or (pid is not None and host == here and not _alive(pid, started)):
                gone.append(int(rid))
        if gone:
            with self.transaction() as tx:
                tx.executemany(
                    "UPDATE import_runs SET status = 'interrupted', finished = ? "
                    "WHERE id = ? AND status = 'running'",
                    [(time.time(), rid) for rid in gone],
                )
        return gone

    def add_import_errors(self, run_id: int, rows: Sequence[BadRow]) -> None:
        if not rows:
            return
        with self.transaction() as tx:
            tx.executemany(
                "INSERT INTO import_errors (run_id, file, line, reason, raw) VALUES (?, ?, ?, ?, ?)",
                # A refused row may hold a comment: its e-mail addresses and phone numbers go too.
                [(run_id, b.source, b.line, b.reason, scrub_pii(b.raw[:1000])) for b in rows],
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


def _alive(pid: int, run_started: float) -> bool:
    """Whether process ``pid`` exists and is the one that started a run at ``run_started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    started = _process_started(pid)
    # A process started after the run did is another one that was given the same id.
    return started is None or started <= run_started + 1.0


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None

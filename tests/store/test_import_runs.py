"""Import runs end in a final state: a 'running' run whose process is gone is marked 'interrupted'."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from mediarec.store import Store
from mediarec.store.imports import _process_started


def _run(store: Store, started: float, pid: int | None, host: str | None) -> int:
    with store.transaction() as tx:
        row = tx.execute(
            "INSERT INTO import_runs (source, format, started, pid, host) VALUES ('x', 'ingest', ?, ?, ?) "
            "RETURNING id",
            (started, pid, host),
        ).fetchone()
        return int(row[0])


def _status(store: Store, run_id: int) -> str:
    return str(store.conn.execute("SELECT status FROM import_runs WHERE id = ?", (run_id,)).fetchone()[0])


def test_runs_of_gone_processes_are_marked_when_a_run_starts(store_url: str) -> None:
    store = Store(store_url)
    here, now = socket.gethostname(), time.time()
    dead = subprocess.Popen(["true"])
    dead.wait()
    me = os.getpid()
    born = _process_started(me)
    assert born is not None and born <= now + 1
    runs = {
        "dead process": _run(store, now, dead.pid, here),
        "legacy row": _run(store, born - 60, None, None),  # from before the pid column
        "pid reused": _run(store, born - 60, me, here),  # my pid, but I started after it
        "alive": _run(store, now, me, here),
        "other host": _run(store, now, dead.pid, here + "-elsewhere"),  # cannot be checked
    }
    new = store.start_import("next", "ingest")
    got = {name: _status(store, rid) for name, rid in runs.items()}
    assert got == {
        "dead process": "interrupted",
        "legacy row": "interrupted",
        "pid reused": "interrupted",
        "alive": "running",
        "other host": "running",
    }
    assert _status(store, new) == "running"
    pid, host = store.conn.execute("SELECT pid, host FROM import_runs WHERE id = ?", (new,)).fetchone()
    assert (pid, host) == (me, here)
    finished = store.conn.execute("SELECT finished FROM import_runs WHERE id = ?", (runs["dead process"],))
    assert finished.fetchone()[0] >= now

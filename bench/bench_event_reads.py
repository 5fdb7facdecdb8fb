"""How long the store's bulk event reads take (``event_columns``, ``recent_item_events``).

Builds (once) a SQLite store with 50,000 users, 20,000 items and 1M view events written straight
through ``sqlite3`` (this measures reads, not import), then times the two reads a model's first request
and every training make. To compare with another tree, run the same file with that tree's ``src`` first
on ``PYTHONPATH``; for the raw-``sqlite3`` store before the SQLAlchemy port:
``git archive 7c682ce src | tar -x -C /tmp/old``, then ``PYTHONPATH=/tmp/old/src`` and this command.

    .venv/bin/python bench/bench_event_reads.py --db /tmp/event-reads.db
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

import numpy as np

from mediarec.store import Store


def build(path: Path, users: int, items: int, events: int) -> None:
    Store(path).close()  # the schema, from the tree under test
    rng = np.random.default_rng(0)
    with sqlite3.connect(path) as c:
        c.executemany(
            "INSERT INTO users (external_id, created) VALUES (?, 0)", [(f"u{i}",) for i in range(users)]
        )
        c.executemany(
            "INSERT INTO items (external_id, title, created, updated) VALUES (?, '', 0, 0)",
            [(f"i{i}",) for i in range(items)],
        )
        rows = zip(
            rng.integers(1, users + 1, events).tolist(),
            rng.integers(1, items + 1, events).tolist(),
            ["view"] * events,
            rng.random(events).tolist(),
            np.arange(events, dtype=float).tolist(),
            strict=True,
        )
        c.executemany(
            "INSERT OR IGNORE INTO interactions (user_id, item_id, type, value, ts) VALUES (?,?,?,?,?)", rows
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/event-reads.db"))
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    if not args.db.exists():
        build(args.db, 50_000, 20_000, args.events)
    store = Store(args.db)
    t = time.perf_counter()
    cols = store.event_columns()
    print(f"event_columns: {len(cols.users):,} events in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    _, users, _, _ = store.recent_item_events(1e12)
    print(f"recent_item_events: {len(users):,} events in {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

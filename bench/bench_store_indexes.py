"""The store queries that Alembic revision 0002's indexes were added for, timed with and without them.

On an existing store (either backend, at the head revision), each query is timed (median of
``--repeats``) as it is, then again inside a transaction that drops the three indexes and brings
back the old ``interactions_item`` index, which is rolled back at the end (both databases roll DDL
back), so the store is left as it was. The plan of each query is printed for both states.

    .venv/bin/python bench/bench_store_indexes.py --store-url postgresql://postgres@127.0.0.1:55987/scale100k
    .venv/bin/python bench/bench_store_indexes.py --store-url sqlite:////tmp/pgh-ml1m/mediarec.db

Queries: the catalogue stamp as one SELECT (before) and as scalar subqueries (now), the snapshot's
first-seen pass, and the dashboard's progress of a running ingest (features and files since a time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from mediarec.store import Store
from mediarec.store.backend import Conn

QUERIES = {
    "stamp_one_select": "SELECT count(*), max(id), max(updated) FROM items",
    "stamp_features_one_select": "SELECT max(id), max(created) FROM item_features",
    "stamp_subqueries": (
        "SELECT (SELECT count(*) FROM items), (SELECT max(id) FROM items), (SELECT max(updated) FROM items), "
        "(SELECT max(id) FROM item_features), (SELECT max(created) FROM item_features)"
    ),
    "stamp_max_only": "SELECT (SELECT max(updated) FROM items), (SELECT max(created) FROM item_features)",
    "first_seen": "SELECT item_id, min(ts) FROM interactions GROUP BY item_id",
    "progress_features": (
        "SELECT count(DISTINCT item_id) FROM item_features WHERE created >= "
        "(SELECT max(created) FROM item_features) - 60 AND extractor != 'probe'"
    ),
    "progress_files": (
        "SELECT count(*) FROM items WHERE content_hash IS NOT NULL AND updated >= "
        "(SELECT max(updated) FROM items) - 60"
    ),
}
DROP = [
    "DROP INDEX items_updated",
    "DROP INDEX item_features_created",
    "DROP INDEX interactions_item_ts",
    "CREATE INDEX interactions_item ON interactions (item_id)",
]


def timed(conn: Conn, sql: str, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        conn.execute(sql).fetchall()
        samples.append(time.perf_counter() - began)
    return round(statistics.median(samples) * 1000, 2)


def plan(conn: Conn, sql: str, sqlite: bool) -> str:
    if sqlite:
        return " | ".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
    return " | ".join(str(r[0]).strip() for r in conn.execute(f"EXPLAIN {sql}").fetchall())


def measure(conn: Conn, sqlite: bool, repeats: int) -> dict[str, Any]:
    return {
        name: {"ms": timed(conn, sql, repeats), "plan": plan(conn, sql, sqlite)}
        for name, sql in QUERIES.items()
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    store = Store(args.store_url)
    sqlite = store.dialect.sqlite
    out: dict[str, Any] = {
        "store": store.display_url,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "counts": store.counts(),
    }
    conn = store.conn
    if not sqlite:
        conn.execute("ANALYZE")
    out["with_indexes"] = measure(conn, sqlite, args.repeats)
    conn.execute(store.dialect.begin)
    try:
        for statement in DROP:
            conn.execute(statement)
        if not sqlite:
            conn.execute("ANALYZE interactions")
        out["without"] = measure(conn, sqlite, args.repeats)
    finally:
        conn.execute("ROLLBACK")
    store.close()
    for name in QUERIES:
        before, now = out["without"][name]["ms"], out["with_indexes"][name]["ms"]
        print(f"{name:<28} {before:>10.2f} ms -> {now:>10.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()

"""What a store costs the other threads of a process: connection set-up per thread, connections left
open by threads that ended, and how long a bulk read stops the rest of the process.

1. ``--threads`` short threads, one after another, each runs one query: the first query's time per
   thread (connection set-up included), and the connections the store still holds afterwards
   (PostgreSQL: ``pg_stat_activity``).
2. One thread reads every event (``Conn.fetch_tuples``, the bulk read of trending, the taste batch and
   training) while the main thread wakes every millisecond: the longest gap it saw is how long the read
   held the GIL at a stretch, the time every other request thread of a server would wait too.

    .venv/bin/python bench/bench_store_threads.py --store-url postgresql://postgres@127.0.0.1:55987/copycheck_full
    .venv/bin/python bench/bench_store_threads.py --store-url sqlite:////tmp/pgh-ml1m/mediarec.db
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import threading
import time
from typing import Any

from mediarec.store import Store


def backends(url: str) -> int | None:
    if not url.startswith("postgres"):
        return None
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def short_threads(store: Store, url: str, n: int) -> dict[str, Any]:
    times: list[float] = []

    def one() -> None:
        began = time.perf_counter()
        store.conn.execute("SELECT 1").fetchone()
        times.append(time.perf_counter() - began)

    for _ in range(n):
        t = threading.Thread(target=one)
        t.start()
        t.join()
    gc.collect()
    times.sort()
    return {
        "threads": n,
        "first_query_median_ms": round(times[n // 2] * 1000, 2),
        "first_query_max_ms": round(times[-1] * 1000, 2),
        "connections_held_by_the_store": len(store._all),
        "server_backends": backends(url),
    }


def bulk_read_stall(store: Store) -> dict[str, Any]:
    done = threading.Event()
    result: dict[str, Any] = {}

    def read() -> None:
        began = time.perf_counter()
        rows = store.conn.fetch_tuples("SELECT user_id, item_id, ts FROM interactions")
        result["read_s"] = round(time.perf_counter() - began, 2)
        result["rows"] = len(rows)
        done.set()

    reader = threading.Thread(target=read)
    gaps: list[float] = []
    reader.start()
    last = time.perf_counter()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    reader.join()
    gaps.sort()
    result["longest_stall_ms"] = round(gaps[-1] * 1000, 1)
    result["p99_gap_ms"] = round(gaps[int(len(gaps) * 0.99)] * 1000, 1)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--reads", type=int, default=3, help="bulk reads, one after another")
    args = parser.parse_args(argv)
    store = Store(args.store_url)
    store.conn.execute("SELECT 1")
    out: dict[str, Any] = {
        "store": store.display_url,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "short_threads": short_threads(store, args.store_url, args.threads),
        "bulk_reads": [bulk_read_stall(store) for _ in range(args.reads)],
    }
    store.close()
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

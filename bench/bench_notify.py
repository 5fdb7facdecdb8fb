"""How long after a write is acknowledged another process hears of it through PostgreSQL's
notifications (store/changes.py: what a replica on another host relies on), under a hit load.

Process A is a real ``mediarec serve`` (uvicorn, one worker) on the PostgreSQL store of ``--home``
(``MEDIAREC_STORE_URL``). A second process keeps ``--clients`` keep-alive clients asking A for cached
lists (closed loop). This process (B) holds a LISTEN connection on channel ``mediarec_changes``
and, ``--posts`` times, POSTs one new event to A and waits on the listen socket (``select``, no
polling) for the trigger's notification (payload ''; heartbeats are skipped). Reported: the delay
from A's acknowledgement (response received) to the notification read in B, and from the POST
being sent, p50/p99/max in ms; the load average before and after.

    MEDIAREC_STORE_URL=postgresql://... python bench/bench_notify.py --home HOME --posts 300
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import select
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import server


def load(base: str, users: list[str], stop: Any, counts: Any) -> None:
    """Closed loop of cached-list GETs from one client per thread of this child process."""
    import threading

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=30) as c:
            while not stop.is_set():
                c.get(f"/users/{rng.choice(users)}/recommendations")
                with counts.get_lock():
                    counts.value += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(users) and 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--posts", type=int, default=300)
    ap.add_argument("--clients", type=int, default=10, help="closed-loop hit clients on A (0: no load)")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    url = os.environ.get("MEDIAREC_STORE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("set MEDIAREC_STORE_URL to the PostgreSQL store of --home")
    from psycopg import pq

    from mediarec.store import Store
    from mediarec.store.changes import CHANNEL, libpq_conninfo

    with Store(url) as store:
        users = [r[0] for r in store.conn.execute(f"SELECT external_id FROM users LIMIT {args.users}")]
        items = [r[0] for r in store.conn.execute("SELECT external_id FROM items LIMIT 2000")]
        conninfo = libpq_conninfo(store.url)
    listen = pq.PGconn.connect(conninfo.encode())
    assert listen.exec_(f"LISTEN {CHANNEL}".encode()).status == pq.ExecStatus.COMMAND_OK
    uptime_before = os.getloadavg()
    from_ack: list[float] = []
    from_send: list[float] = []
    ctx = multiprocessing.get_context("spawn")
    with server(Path(args.home), workers=1) as (base, key):
        stop, counts = ctx.Event(), ctx.Value("l", 0)
        loader = ctx.Process(target=load, args=(base, users[: args.clients and len(users)], stop, counts))
        if args.clients:
            loader.start()
            time.sleep(3.0)  # the lists get cached
        started = time.monotonic()
        with httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": key}) as c:
            for i in range(args.posts):
                listen.consume_input()
                while listen.notifies() is not None:
                    pass  # what came before this POST
                event = {"user": random.choice(users), "item": random.choice(items), "type": "view"}
                event["value"] = 0.5 + (i % 1000) / 4000  # a new identity each time
                sent = time.perf_counter()
                r = c.post("/interactions", json=event)
                ack = time.perf_counter()
                assert r.status_code == 200, r.text
                seen = None
                while seen is None:
                    listen.consume_input()
                    while (note := listen.notifies()) is not None:
                        if not bytes(note.extra):
                            seen = time.perf_counter()
                    if seen is None:
                        select.select([listen.socket], [], [], 5.0)
                from_ack.append((seen - ack) * 1000)
                from_send.append((seen - sent) * 1000)
                time.sleep(0.02)
        wall = time.monotonic() - started
        stop.set()
        if args.clients:
            loader.join(30)
    listen.finish()
    out = {
        "posts": args.posts,
        "clients": args.clients,
        "hit_rate": round(counts.value / wall, 1) if args.clients else 0,
        "ack_to_seen_ms": {
            q: round(pct(from_ack, v), 3) for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
        },
        "send_to_seen_ms": {
            q: round(pct(from_send, v), 3) for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
        },
        "seen_before_ack": sum(1 for d in from_ack if d <= 0.05),
        "load_before": [round(x, 2) for x in uptime_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

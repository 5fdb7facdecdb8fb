"""``recommend`` over HTTP at N concurrent clients against one ``mediarec serve`` on a given store, in
rounds separated by idle pauses, with the server's PostgreSQL connections counted after each round.

Why rounds and pauses: a server's request threads come and go (anyio ends a worker thread after 10 s
without work), and each thread that touches the store needs a connection. The script shows what
each round's threads cost (latency percentiles, the slowest requests and when they started) and
how many connections the server holds afterwards (``pg_stat_activity``, PostgreSQL stores only).

    .venv/bin/python bench/bench_http_store.py --home /tmp/pgh-scale20k \\
        --store-url postgresql://postgres@127.0.0.1:55987/scale20k --rounds 3 --pause 12

The home must hold a trained model for the users of the store.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import stop, wait_health  # the sibling modules, importable once the path is set
from _server import free_port
from mediarec.store import Store

MEDIAREC = str(Path(sys.executable).with_name("mediarec"))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def server_connections(store_url: str) -> int | None:
    """Connections to the store's database other than this one (PostgreSQL), else None."""
    if not store_url.startswith("postgres"):
        return None
    import psycopg

    with psycopg.connect(store_url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def one_round(base: str, users: list[str], clients: int) -> dict[str, Any]:
    todo = list(users)
    lock = threading.Lock()
    samples: list[tuple[float, float]] = []  # (start offset, seconds)
    errors: list[int] = []
    began_round = time.perf_counter()

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    user = todo.pop()
                began = time.perf_counter()
                r = http.get(f"/users/{user}/recommendations", params={"n": 10})
                took = time.perf_counter() - began
                with lock:
                    if r.status_code == 200:
                        samples.append((began - began_round, took))
                    else:
                        errors.append(r.status_code)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began_round
    times = np.asarray([s for _, s in samples])
    slowest = sorted(samples, key=lambda s: -s[1])[:5]
    return {
        "requests": len(samples),
        "errors": len(errors),
        "p50_ms": round(float(np.percentile(times, 50)) * 1000, 1),
        "p99_ms": round(float(np.percentile(times, 99)) * 1000, 1),
        "max_ms": round(float(times.max()) * 1000, 1),
        "throughput_rps": round(len(samples) / wall, 1),
        "slowest_ms_at_s": [[round(t * 1000), round(at, 2)] for at, t in slowest],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--store-url", default="", help="default: the home's SQLite file")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per round")
    parser.add_argument("--warm", type=int, default=20, help="untimed sequential requests first")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=12.0, help="idle seconds between rounds")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    url = args.store_url or f"sqlite:///{args.home / 'mediarec.db'}"
    with Store(url) as store:
        everyone = [u for (u,) in store.conn.execute("SELECT external_id FROM users ORDER BY id")]
    rng = np.random.default_rng(args.seed)
    users = [str(u) for u in rng.choice(everyone, args.warm + 1 + args.requests * args.rounds, replace=True)]
    env = {**os.environ, "MEDIAREC_HOME": str(args.home)}
    if args.store_url:
        env["MEDIAREC_STORE_URL"] = args.store_url
    port = free_port()
    log = (args.home / "serve-bench.log").open("ab")
    proc = subprocess.Popen([MEDIAREC, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"store": args.store_url or "sqlite (home)", "uptime_before": uptime()}
    try:
        wait_health(proc, f"{base}/health", timeout=600)  # a big store's snapshot takes minutes
        started = time.perf_counter()
        httpx.get(f"{base}/users/{users[0]}/recommendations", timeout=600).raise_for_status()
        out["first_request_s"] = round(time.perf_counter() - started, 2)
        for u in users[1 : 1 + args.warm]:
            httpx.get(f"{base}/users/{u}/recommendations", timeout=600).raise_for_status()
        out["connections_after_warm_up"] = server_connections(args.store_url)
        rounds = []
        rest = users[1 + args.warm :]
        for k in range(args.rounds):
            if k:
                time.sleep(args.pause)
            result = one_round(base, rest[k * args.requests : (k + 1) * args.requests], args.clients)
            result["connections_after"] = server_connections(args.store_url)
            rounds.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
        out["rounds"] = rounds
        out["uptime_after"] = uptime()
    finally:
        stop(proc)
        log.close()
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()

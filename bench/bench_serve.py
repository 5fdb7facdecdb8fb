"""Serving benchmark: p50/p99 latency and throughput of GET /users/{id}/recommendations.

Imports ML-1M (``../shared/data/ml-1m-llm``) into a data home with the standard importer (once:
``--home`` is reused when it already holds the data), trains ALS (and ``hybrid`` when the registry
has it), starts the real server (uvicorn, its own process) on loopback and runs a bounded closed-loop
load generator: ``--concurrency`` client threads, each with a keep-alive connection, send
``--requests`` requests in all per level (or stop at ``--max-seconds``), over random known users,
with every ranking feature switched on (CF + content neighbours + trending + fresh, watched and seen
filters, freshness boost, MMR, creator and topic caps, exploration, explanations).

    .venv/bin/python bench/bench_serve.py [--home /tmp/mediarec-bench] [--levels 1,10,50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import server  # the sibling module, importable once the path is set
from mediarec import recommenders
from mediarec.engine import MediaRec
from mediarec.recommenders import repository

# Every ranking knob on: diversity below 1, both caps, exploration and the freshness boost (the
# candidate sources and the watched filter are on by default).
ALL_ON = {"diversity": 0.7, "max_per_creator": 3, "max_per_topic": 4, "explore": 0.1, "freshness": 0.05}


def prepare(home: Path, data: Path) -> tuple[list[str], list[str]]:
    """Import and train when needed; returns (known users, model names to benchmark)."""
    engine = MediaRec(home)
    try:
        if engine.store.counts()["interactions"] == 0:
            started = time.perf_counter()
            report = engine.import_data(data)
            print(f"imported {data} in {time.perf_counter() - started:.1f}s: {report}", flush=True)
        names = ["als"] + (["hybrid"] if "hybrid" in recommenders.MODELS else [])
        for name in list(names):
            if not repository.versions(engine.home, name):
                started = time.perf_counter()
                try:
                    engine.train(name)
                except (ValueError, RuntimeError) as exc:  # e.g. the hybrid without item features
                    print(f"skipping {name}: {exc}", flush=True)
                    names.remove(name)
                    continue
                print(f"trained {name} in {time.perf_counter() - started:.1f}s", flush=True)
        loaded = engine.loaded("als")
        assert loaded is not None
        return [str(u) for u in loaded.model.user_ids], names
    finally:
        engine.close()


def run_level(
    base: str, users: list[str], model: str, concurrency: int, requests: int, max_seconds: float, n: int
) -> dict[str, float]:
    """Closed loop: each client sends its next request when the last one is answered."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    per_client = max(1, requests // concurrency)

    def client(k: int) -> None:
        rng = np.random.default_rng(1000 + k)
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    break
                user = users[int(rng.integers(len(users)))]
                t0 = time.perf_counter()
                try:
                    r = http.get(f"/users/{user}/recommendations", params={"n": n, "model": model, **ALL_ON})
                    ok = r.status_code == 200 and len(r.json()["items"]) > 0
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors[0],
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "throughput_rps": len(latencies) / wall,
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-1m-llm")
    )
    ap.add_argument("--home", default="/tmp/mediarec-bench-ml1m")
    ap.add_argument("--levels", default="1,10,50")
    ap.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop a level after this long")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    home = Path(args.home)
    users, names = prepare(home, Path(args.data))
    levels = [int(x) for x in args.levels.split(",")]
    results: list[dict[str, Any]] = []
    with server(home, workers=args.workers) as (base, _key):
        for name in names:
            # The first request builds the catalogue snapshot, the model view and the trending
            # figures (seconds on ML-1M); it is startup cost, not serving latency.
            started = time.perf_counter()
            httpx.get(f"{base}/users/{users[0]}/recommendations", params={"model": name}, timeout=300)
            print(f"{name}: first request (cold caches) {time.perf_counter() - started:.2f}s", flush=True)
            run_level(base, users, name, 4, args.warmup, args.max_seconds, args.n)
            for c in levels:
                figures = run_level(base, users, name, c, args.requests, args.max_seconds, args.n)
                res = {"model": name, **figures}
                results.append(res)
                print(
                    f"{name:>7} c={c:<3} requests={res['requests']:<5} errors={res['errors']} "
                    f"p50={res['p50_ms']:.1f} ms  p99={res['p99_ms']:.1f} ms  "
                    f"throughput={res['throughput_rps']:.0f} req/s",
                    flush=True,
                )
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"command: {command}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    median = statistics.median(float(r["p50_ms"]) for r in results)
    print(f"load average after: {os.getloadavg()}; median p50 over levels {median:.1f} ms")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": command, "results": results}, indent=2))


if __name__ == "__main__":
    main()

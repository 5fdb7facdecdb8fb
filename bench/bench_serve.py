"""Serving benchmark: GET /users/{id}/recommendations, mediarec side by side with its peers.

Imports ML-1M (``../shared/data/ml-1m-llm``) into a data home with the standard importer and trains
ALS (64 factors) once (``--home`` is reused when it already holds them); each run works on a copy of
that home, since the miss path writes events. Then, on loopback, in one run:

- ``mediarec-hit``: ``mediarec serve``'s app under uvicorn (``--workers``, default 2), every ranking
  feature on (all candidate sources, seen/watched filters, freshness boost, MMR, creator and topic
  caps, exploration, explanations), over users whose lists are cached (warmed first; the
  ``X-Mediarec-Cache`` header counts the hits);
- ``mediarec-miss``: the same server right after an interaction: each request POSTs an event for a
  random user, then GETs that user's list (the GET's latency is reported; ``post+get`` too);
- ``mediarec-post+get`` in the open loop (``--post-open``, 25/50/100 pairs a second by default):
  POST → changed list at a given write rate. A closed loop of clients that do nothing but write
  measures the saturation point (each client sends its next pair as soon as the last is answered,
  so the latency there is about clients / throughput plus queueing); pairs started on a fixed
  schedule measure the latency a given write rate gets. Both are reported;
- ``mediarec-granian``: the hit path of the same app under granian instead of uvicorn
  (``mediarec serve --http granian``'s runner; ``--no-granian`` leaves it out), and its
  POST → changed list levels beside uvicorn's (``mediarec-granian-post+get``), and the bare app
  under granian (``bare-granian``), the limit for that server;
- ``cornac``: Cornac 3.0.1's serving app (Flask's server) with an MF model of 64 factors trained on
  the same events, ``remove_seen=true`` (bench/_peers.py makes its throw-away virtualenv);
- ``bare``: a bare Starlette app (uvicorn, 2 workers) returning precomputed answers of the same
  size: the limit of Python HTTP here.

Both mediarec and the bare app run their workers as ``mediarec serve --workers N`` does
(serve/workers.py: a SO_REUSEPORT socket per worker, so the kernel spreads the clients' connections
over the processes; with uvicorn's one shared socket a burst of connections went to one worker).

Closed loop (1/10/50 clients, each on a keep-alive connection) and open loop (50/100/200/400 req/s;
latency counted from each request's scheduled time; over 2 s or not 200 is an error), ``--seconds``
per level (20 by default), the systems interleaved within each level, load average printed. The load
comes from ``_loadgen.py``: one asyncio process per level (keep-alive HTTP/1.1 over plain streams, a
few tens of microseconds of its own CPU a request), which prints its own health beside each row: the
CPU it used, and in the open loop the rate it actually dispatched and its lag behind the schedule. An
open-loop level where it could not hold the schedule against the bare app is marked INVALID.

    .venv/bin/python bench/bench_serve.py [--home /tmp/mediarec-bench-ml1m] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers  # the sibling modules, importable once the path is set
from _server import free_port, server
from mediarec.engine import MediaRec
from mediarec.recommenders import repository

# Every ranking knob on: diversity below 1, both caps, exploration and the freshness boost (the
# candidate sources and the watched filter are on by default).
ALL_ON = {"diversity": 0.7, "max_per_creator": 3, "max_per_topic": 4, "explore": 0.1, "freshness": 0.05}
TIMEOUT = 2.0  # an answer later than this is an error
N = 10


def prepare(home: Path, data: Path) -> list[str]:
    """Import and train when needed; returns the model's users."""
    engine = MediaRec(home)
    try:
        if engine.store.counts()["interactions"] == 0:
            started = time.perf_counter()
            report = engine.import_data(data)
            print(f"imported {data} in {time.perf_counter() - started:.1f}s: {report}", flush=True)
        if not repository.versions(engine.home, "als"):
            started = time.perf_counter()
            engine.train("als")
            print(f"trained als in {time.perf_counter() - started:.1f}s", flush=True)
        loaded = engine.loaded("als")
        assert loaded is not None
        return [str(u) for u in loaded.model.user_ids]
    finally:
        engine.close()


def in_process_miss(home: Path, users: list[str], items: list[str], count: int) -> dict[str, float]:
    """The miss path without HTTP: an event for a random user, then their list (every feature on)."""
    from mediarec.rank import RankOptions
    from mediarec.records import EventRecord

    rng = np.random.default_rng(11)
    took = []
    with MediaRec(home) as engine:
        options = engine.rank_options.with_overrides(
            mmr_lambda=0.7, max_per_creator=3, max_per_topic=4, explore_epsilon=0.1, freshness_boost=0.05
        )
        assert isinstance(options, RankOptions)
        engine.rank(users[0], n=N, options=options)  # the shared snapshots: startup, not a miss
        for _ in range(count):
            user, item = users[int(rng.integers(len(users)))], items[int(rng.integers(len(items)))]
            engine.add_events([EventRecord(user, item, "view", None, time.time())])
            t0 = time.perf_counter()
            entry, hit = engine.rank_entry(user, n=N, options=options)
            took.append(time.perf_counter() - t0)
            assert not hit and entry.result.items
    ms = np.asarray(took) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


LOADGEN = Path(__file__).resolve().parent / "_loadgen.py"
# A level is measured only when the generator kept to its schedule against the bare app (the cheapest
# server): at least this share of the rate dispatched, and its p99 lag behind the schedule under this.
GEN_MIN_RATE = 0.97
GEN_MAX_LAG_MS = 5.0


def load(base: str, spec: dict[str, Any], mode: str, level: float, seconds: float) -> dict[str, Any]:
    """One level against one server, driven by ``_loadgen.py`` in its own asyncio process."""
    full = {**spec, "base": base, "mode": mode, "level": level, "seconds": seconds, "timeout": TIMEOUT}
    out = subprocess.run(
        [sys.executable, str(LOADGEN)],
        input=json.dumps(full),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return dict(json.loads(out.stdout))


def worker_connections(port: int) -> list[int]:
    """Established connections to ``port`` held by each process, most first (Linux ``/proc``): how
    the kernel spread the clients over the workers' SO_REUSEPORT sockets (by a hash of each
    connection's addresses, so 10 connections over 2 workers split 7/3 or worse about a third of
    the time, and the busier worker's core then sets the pace). Empty where /proc is missing."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":  # 01: ESTABLISHED
                inodes.add(f"socket:[{f[9]}]")

    def link(fd: Path) -> str:
        try:
            return os.readlink(fd)
        except OSError:  # closed meanwhile
            return ""

    per: list[int] = []
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            held = sum(link(fd) in inodes for fd in fds.iterdir())
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if held:
            per.append(held)
    return sorted(per, reverse=True)


def generator_ok(row: dict[str, Any]) -> bool:
    """Whether the open-loop generator held its schedule in this row (see GEN_MIN_RATE)."""
    return row["gen_rate"] >= GEN_MIN_RATE * row["level"] and row["gen_lag_p99_ms"] <= GEN_MAX_LAG_MS


def query(params: dict[str, Any]) -> str:
    return urlencode({"n": N, **params})


def mediarec_get(users: list[str], params: dict[str, Any]) -> dict[str, Any]:
    q = query(params)
    return {"kind": "get", "paths": [f"/users/{quote(u, safe='')}/recommendations?{q}" for u in users]}


def mediarec_miss(users: list[str], items: list[str], key: str, params: dict[str, Any]) -> dict[str, Any]:
    """POST an event for a random user, then GET their list: the GET's latency is reported."""
    return {"kind": "miss", "users": users, "items": items, "key": key, "query": query(params)}


def post_then_get(users: list[str], items: list[str], key: str, params: dict[str, Any]) -> dict[str, Any]:
    return {**mediarec_miss(users, items, key, params), "kind": "post+get"}  # POST → changed list


def cornac_get(users: list[str]) -> dict[str, Any]:
    paths = [f"/recommend?{urlencode({'uid': u, 'k': N, 'remove_seen': 'true'})}" for u in users]
    return {"kind": "get", "paths": paths}


def bare_get(users: list[str]) -> dict[str, Any]:
    return {"kind": "get", "paths": [f"/users/{quote(u, safe='')}/recommendations" for u in users]}


def warm(base: str, users: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """Request every user from several connections (each worker keeps its own cache) until nearly
    every answer is a hit; returns one answer per user (the bare app's lists)."""
    bodies: dict[str, Any] = {}
    lock = threading.Lock()
    for _ in range(6):
        hits = [0]

        def part(chunk: list[str], hits: list[int] = hits) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                for user in chunk:
                    r = http.get(f"/users/{user}/recommendations", params={"n": N, **params})
                    with lock:
                        bodies[user] = r.json()
                        hits[0] += r.headers.get("x-mediarec-cache") == "hit"

        threads = [threading.Thread(target=part, args=(users[k::8],)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"  warm pass: {hits[0] / len(users):.0%} hits", flush=True)
        if hits[0] >= 0.99 * len(users):
            break
    return bodies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-1m-llm")
    )
    ap.add_argument("--home", default="/tmp/mediarec-bench-ml1m")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds per level")
    ap.add_argument("--closed", default="1,10,50", help="closed-loop client counts")
    ap.add_argument("--open", default="50,100,200,400", help="open-loop rates, req/s")
    ap.add_argument(
        "--miss-closed", default=None, help="closed-loop client counts of the miss levels (default: --closed)"
    )
    ap.add_argument(
        "--post-open", default="25,50,100", help="open-loop POST → changed list rates, pairs/s ('' for none)"
    )
    ap.add_argument(
        "--no-miss-get",
        action="store_true",
        help="leave out the GET-only miss levels (the post+get rows report the GET's latency too)",
    )
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (mediarec, bare)")
    ap.add_argument("--hit-users", type=int, default=1000, help="users whose lists are cached first")
    ap.add_argument("--no-granian", action="store_true", help="leave out mediarec under granian")
    ap.add_argument("--no-cornac", action="store_true")
    ap.add_argument("--miss-count", type=int, default=300, help="in-process misses measured")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to wait after warming, before the first level (a big catalogue's server computes"
        " its first new-item audiences in the background for a while after its first requests)",
    )
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    prepared = Path(args.home)
    users = prepare(prepared, Path(args.data))
    home = prepared.with_name(prepared.name + "-run")  # the miss path writes events: a copy per run
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(prepared, home)
    rng = np.random.default_rng(7)
    hot = [str(u) for u in rng.choice(users, size=min(args.hit_users, len(users)), replace=False)]
    with MediaRec(home) as engine:
        items = [str(i) for i in engine.store.all_item_ids()]
        pairs: list[tuple[str, str]] = []  # Cornac's training events, read only for Cornac
        if not args.no_cornac:
            ev = engine.store.event_columns()
            pairs = list(zip(ev.users.tolist(), ev.items.tolist(), strict=True))
        factors = int(engine.loaded("als").model.item_vectors().shape[1])  # type: ignore[union-attr]
    results: list[dict[str, Any]] = []
    if args.miss_count > 0:  # 0 leaves it out: at a million items the bench process would hold a
        started = time.perf_counter()  # second snapshot (~11 GB) beside the server's
        miss = in_process_miss(home, users, items, args.miss_count)
        print(
            f"in process, the list right after an event ({args.miss_count} users): p50 "
            f"{miss['p50_ms']:.1f} ms, p99 {miss['p99_ms']:.1f} ms "
            f"({time.perf_counter() - started:.0f} s with startup)",
            flush=True,
        )
        results.append({"system": "in-process-miss", **miss})
    work = home.parent / (home.name + "-peers")
    with ExitStack() as stack:
        base, key = stack.enter_context(server(home, workers=args.workers))
        started = time.perf_counter()
        httpx.get(f"{base}/users/{hot[0]}/recommendations", params={"n": N, **ALL_ON}, timeout=300)
        print(f"mediarec: first request (cold caches) {time.perf_counter() - started:.2f}s", flush=True)
        bodies = warm(base, hot, ALL_ON)
        if args.settle > 0:
            print(f"  settling {args.settle:g} s (load {os.getloadavg()[0]:.2f})", flush=True)
            time.sleep(args.settle)
            warm(base, hot, ALL_ON)  # lists that went stale meanwhile (new figures) are cached again
        lists = work / "bare-lists.json"
        work.mkdir(parents=True, exist_ok=True)
        lists.write_text(json.dumps(bodies))
        systems: dict[str, tuple[str, dict[str, Any]]] = {
            "bare": (
                stack.enter_context(_peers.bare_server(lists, free_port(), args.workers)),
                bare_get(hot),
            ),
        }
        if not args.no_cornac:
            started = time.perf_counter()
            python, model = _peers.train_cornac(pairs, factors, work / "cornac")
            print(
                f"cornac: MF ({factors} factors) trained in {time.perf_counter() - started:.1f}s", flush=True
            )
            cornac = stack.enter_context(_peers.cornac_server(python, model, free_port(), hot[0]))
            systems["cornac"] = (cornac, cornac_get(hot))
        systems["mediarec-hit"] = (base, mediarec_get(hot, ALL_ON))
        if not args.no_granian:
            granian = stack.enter_context(_peers.granian_mediarec(home, free_port(), args.workers))
            warm(granian, hot, ALL_ON)
            systems["mediarec-granian"] = (granian, mediarec_get(hot, ALL_ON))
            bare_granian = stack.enter_context(_peers.bare_granian(lists, free_port(), args.workers))
            systems["bare-granian"] = (bare_granian, bare_get(hot))
        misses = {
            "mediarec-miss": (base, mediarec_miss(users, items, key, ALL_ON)),
            "mediarec-post+get": (base, post_then_get(users, items, key, ALL_ON)),
        }
        if args.no_miss_get:
            del misses["mediarec-miss"]
        posts = {"mediarec-post+get": base}  # the POST → changed list levels, per HTTP server
        if not args.no_granian:
            posts["mediarec-granian-post+get"] = granian
            misses["mediarec-granian-post+get"] = (granian, post_then_get(users, items, key, ALL_ON))

        def run(mode: str, level: float, name: str, target: str, spec: dict[str, Any]) -> dict[str, Any]:
            load1 = os.getloadavg()[0]
            spread: list[list[int]] = []  # sampled half-way through the level
            port = urlsplit(target).port or 80
            timer = threading.Timer(args.seconds / 2, lambda: spread.append(worker_connections(port)))
            timer.start()
            try:
                got = load(target, {**spec, "seed": int(level) * 7 + 1}, mode, level, args.seconds)
            finally:
                timer.cancel()
            row = {"system": name, "mode": mode, "level": level, "load1": load1, **got}
            row["worker_connections"] = spread[0] if spread else []
            results.append(row)
            gen = f"gen cpu {got['gen_cpu']:.2f}, connections per worker {row['worker_connections']}"
            if "get_p50_ms" in got:
                gen += f", the GET p50 {got['get_p50_ms']:.1f} / p99 {got['get_p99_ms']:.1f} ms"
            if mode == "open":
                gen += (
                    f", sent {got['gen_rate']:.0f}/s, lag p99 {got['gen_lag_p99_ms']:.1f} ms"
                    f" (max {got['gen_lag_max_ms']:.0f}), conns {got['connections']}"
                )
            print(
                f"{mode:>6} {level:>5g} {name:<18} n={got['requests']:<6} errors={got['errors']:<5} "
                f"hits={got['hits']:<6} p50={got['p50_ms']:7.1f} ms p99={got['p99_ms']:7.1f} ms "
                f"{got['throughput_rps']:6.0f} req/s  load {load1:.1f}  [{gen}]",
                flush=True,
            )
            return row

        # Interleaved: each level runs every system in turn; the writes of the miss path come last,
        # since they move the trending figures every system of mediarec then recomputes.
        for clients in [int(x) for x in args.closed.split(",") if x]:
            for name, (target, spec) in systems.items():
                run("closed", clients, name, target, spec)
        for rate in [float(x) for x in args.open.split(",") if x]:
            rows = [run("open", rate, name, target, spec) for name, (target, spec) in systems.items()]
            # The self-check: the generator held its schedule against the bare app, or the level is
            # marked invalid (it would measure the generator, whatever the servers can do).
            valid = generator_ok(rows[0])
            for row in rows:
                row["valid"] = valid
            b = rows[0]
            verdict = "valid" if valid else "INVALID: it measures the generator, not the servers"
            print(
                f"  open {rate:g} self-check against bare: the generator sent {b['gen_rate']:.1f}/s, "
                f"lag p99 {b['gen_lag_p99_ms']:.1f} ms: {verdict}",
                flush=True,
            )
        miss_closed = args.closed if args.miss_closed is None else args.miss_closed
        for clients in [int(x) for x in miss_closed.split(",") if x]:
            for name, (target, spec) in misses.items():
                run("closed", clients, name, target, spec)
        # POST → changed list at fixed write rates: the pairs leave on schedule whatever the answers
        # do, and each is timed from its scheduled start (a pair waiting for a connection counts).
        for rate in [float(x) for x in args.post_open.split(",") if x]:
            for name, target in posts.items():
                row = run("open", rate, name, target, post_then_get(users, items, key, ALL_ON))
                row["valid"] = generator_ok(row)  # no bare counterpart: the generator's own schedule
                if not row["valid"]:
                    print(f"  {name} open {rate:g}: INVALID, the generator fell behind", flush=True)
    report(results)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"command: {command}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average after: {os.getloadavg()}")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": command, "results": results}, indent=2))


def report(results: list[dict[str, Any]]) -> None:
    """Ratios of mediarec's hit path to the peers at each level; POST → changed list, closed and open."""
    by = {(r["mode"], r["level"], r["system"]): r for r in results if "mode" in r}
    for (mode, level, name), r in by.items():
        if name.endswith("post+get"):
            what = "clients (saturation)" if mode == "closed" else "pairs/s scheduled"
            valid = "" if r.get("valid", True) else " INVALID: the generator fell behind"
            server = "granian" if "granian" in name else "uvicorn"
            print(
                f"POST → changed list ({server}), {mode} {level:g} {what}: p50 {r['p50_ms']:.1f} ms, "
                f"p99 {r['p99_ms']:.1f} ms, {r['throughput_rps']:.0f} pairs/s, errors {r['errors']}{valid}"
            )
    for (mode, level, name), r in list(by.items()):
        if name not in ("mediarec-hit", "mediarec-granian"):
            continue
        for peer in ("bare", "bare-granian", "cornac"):
            p = by.get((mode, level, peer))
            if p is None:
                continue
            if mode == "closed":
                ratio = r["throughput_rps"] / max(p["throughput_rps"], 1e-9)
                print(f"closed {level:g}: {name} throughput = {ratio:.2f}x {peer}'s")
            else:
                ratio = r["p99_ms"] / max(p["p99_ms"], 1e-9)
                errors = f"errors {r['errors']} vs {p['errors']}"
                valid = "" if r.get("valid", True) else " INVALID: the generator fell behind"
                print(f"open {level:g}: {name} p99 = {ratio:.2f}x {peer}'s ({errors}){valid}")


if __name__ == "__main__":
    main()

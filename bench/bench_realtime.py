"""Real-time benchmark: time from POST /interactions to changed GET recommendations, no retrain.

For each trial a user's current list is fetched, then events are posted and the list is polled
until it differs (or ``--timeout`` passes). Two kinds of trial:

- ``fold-in``: likes on items *outside* the user's current list, from a topic (genre) the user
  has not engaged with. The list can only change through the folded-in user vector, the content
  neighbours of the new recent items and the interests, not through the seen filter;
- ``seen``: a full view of the top item, which the seen filter must drop.

Works on any data home with a trained ALS model (``--home``; by default the one bench_serve.py
made from ML-1M), else on the built-in demo catalogue in a temporary home.

    .venv/bin/python bench/bench_realtime.py [--home /tmp/mediarec-bench-ml1m] [--trials 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import server  # the sibling module, importable once the path is set
from mediarec.engine import MediaRec
from mediarec.recommenders import repository


def prepare(home: Path | None) -> tuple[Path, list[str], dict[str, list[str]]]:
    """A home with a trained ALS model; returns it, its known users and item ids by topic."""
    if home is None or not repository.versions(home, "als"):
        from mediarec.datasets import demo
        from mediarec.datasets.loader import load_rows

        home = Path(tempfile.mkdtemp(prefix="mediarec-rt-")) / "home"
        engine = MediaRec(home)
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        engine.train("als", factors=16)
    else:
        engine = MediaRec(home)
    try:
        loaded = engine.loaded("als")
        assert loaded is not None
        by_topic: dict[str, list[str]] = {}
        for item in engine.store.list_items(limit=-1):
            meta = item.metadata
            topics = meta.get("genres") or [meta.get("topic")] if isinstance(meta, dict) else []
            for t in topics or []:
                if t:
                    by_topic.setdefault(str(t), []).append(item.external_id)
        return home, [str(u) for u in loaded.model.user_ids], by_topic
    finally:
        engine.close()


def ids(body: dict[str, Any]) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default="/tmp/mediarec-bench-ml1m")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--events", type=int, default=3, help="likes posted per fold-in trial")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("-n", type=int, default=10)
    args = ap.parse_args()
    home, users, by_topic = prepare(Path(args.home) if args.home else None)
    rng = np.random.default_rng(7)
    results: dict[str, list[float]] = {"fold-in": [], "seen": []}
    unchanged: dict[str, int] = {"fold-in": 0, "seen": 0}
    folded = 0
    with server(home) as (base, key), httpx.Client(base_url=base, timeout=30) as http:
        auth = {"X-API-Key": key}

        def recs(user: str) -> dict[str, Any]:
            r = http.get(f"/users/{user}/recommendations", params={"n": args.n})
            r.raise_for_status()
            return dict(r.json())

        chosen = rng.choice(len(users), size=min(args.trials, len(users)), replace=False)
        for k in chosen:
            user = users[int(k)]
            for trial in ("fold-in", "seen"):
                before = ids(recs(user))
                if trial == "seen":
                    events = [{"user": user, "item": before[0], "type": "view", "value": 1.0}]
                else:
                    topic = sorted(by_topic, key=lambda t: len(set(by_topic[t]) & set(before)))[0]
                    pool = [i for i in by_topic[topic] if i not in before]
                    picks = rng.choice(len(pool), size=min(args.events, len(pool)), replace=False)
                    events = [{"user": user, "item": pool[int(p)], "type": "like"} for p in picks]
                t0 = time.perf_counter()
                r = http.post("/interactions/batch", json=events, headers=auth)
                r.raise_for_status()
                while True:
                    body = recs(user)
                    if ids(body) != before:
                        results[trial].append(time.perf_counter() - t0)
                        folded += trial == "fold-in" and bool(body.get("folded_in"))
                        break
                    if time.perf_counter() - t0 > args.timeout:
                        unchanged[trial] += 1
                        break
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    for trial, times in results.items():
        ms = np.asarray(times) * 1000
        if len(ms):
            print(
                f"{trial:>8}: changed in {len(ms)}/{len(ms) + unchanged[trial]} trials; "
                f"POST -> changed list p50 {np.percentile(ms, 50):.1f} ms, "
                f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms"
            )
        else:
            print(f"{trial:>8}: never changed within {args.timeout} s")
    print(f"fold-in trials served from a folded-in vector: {folded}")
    print(f"home: {home}")
    print(f"command: {command}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Server time of the dashboard's catalogue page over a 100,000-item store (goal: under 300 ms).

Builds a throwaway data home with ``--items`` synthetic items (titles, creators, kinds, metadata
tags and genres) and, for every item, a ``shots`` feature (the card's keyframe) and an ``llm``
feature with tags (the card's top tags, and rows the item_tags triggers maintain). Then requests
each catalogue view ``--requests`` times through the whole ASGI app in process (routing, store
queries, template rendering; no socket) and prints p50 / p99 / max per view.

    .venv/bin/python bench/bench_dashboard.py [--items 100000] [--requests 50] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = [
    "river", "night", "city", "jazz", "pasta", "garden", "code", "football", "science", "travel",
    "story", "music", "piano", "ocean", "winter", "summer", "kitchen", "mountain", "history",
    "engine", "rocket", "forest", "dance", "voice", "market", "coffee",
]  # fmt: skip


def build(home: Path, n: int, seed: int = 7) -> dict[str, str]:
    """Fill a store with ``n`` items and their features; returns sample filter values to query."""
    from mediarec.engine import MediaRec
    from mediarec.records import ItemRecord

    rng = np.random.default_rng(seed)
    vocab = [f"tag{i:03d}" for i in range(300)]
    # Zipf-like popularity, so that some tags cover a large share of the catalogue and others few.
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    creators = [f"Creator {i}" for i in range(500)]
    genres = ["Drama", "Comedy", "Documentary", "Animation", "Music", "Talk"]
    engine = MediaRec(home)
    store = engine.store
    started = time.perf_counter()
    batch = 5000
    for lo in range(0, n, batch):
        records = []
        for i in range(lo, min(n, lo + batch)):
            words = rng.choice(WORDS, size=3, replace=False)
            tags = list(dict.fromkeys(rng.choice(vocab, size=3, p=weights)))
            records.append(
                ItemRecord(
                    external_id=f"item-{i:06d}",
                    title=f"{' '.join(words).capitalize()} {i}",
                    kind="audio" if i % 5 == 0 else "video",
                    duration=float(rng.integers(30, 5400)),
                    creator=creators[int(rng.integers(len(creators)))],
                    metadata={"tags": tags, "genres": [genres[i % len(genres)]], "description": "synthetic"},
                )
            )
        store.upsert_items(records)
    ids = {ext: iid for iid, ext in store.conn.execute("SELECT id, external_id FROM items")}
    now = time.time()
    with store.transaction() as tx:
        rows = []
        for ext, iid in ids.items():
            shots = {
                "shots": [
                    {
                        "index": k,
                        "start": 10.0 * k,
                        "end": 10.0 * (k + 1),
                        "keyframe_path": str(home / "media" / ext / f"shot_{k:04d}.jpg"),
                    }
                    for k in range(4)
                ]
            }
            llm_tags = [
                {
                    "tag": str(t),
                    "evidence": [{"id": "s1", "kind": "transcript", "text": "synthetic", "start": 1.0}],
                }
                for t in rng.choice(vocab, size=2, p=weights)
            ]
            rows.append((iid, "shots", "bench", json.dumps(shots), now))
            rows.append((iid, "llm", "bench", json.dumps({"tags": llm_tags, "moments": []}), now))
        sql = """INSERT INTO item_features (item_id, extractor, model_version, payload, created)
                 VALUES (?, ?, ?, ?, ?)"""
        tx.executemany(sql, rows)
    tags = store.conn.execute("SELECT tag, count(*) FROM item_tags GROUP BY tag ORDER BY 2 DESC").fetchall()
    print(
        f"built {n:,} items, {2 * n:,} features, {sum(c for _, c in tags):,} item_tags rows "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    engine.close()
    return {"common_tag": tags[0][0], "rare_tag": tags[-1][0], "creator": creators[0], "word": "jazz"}


def measure(home: Path, views: dict[str, str], requests: int) -> list[dict[str, object]]:
    from fastapi.testclient import TestClient

    from mediarec.engine import MediaRec
    from mediarec.serve import create_app
    from mediarec.serve import dashboard_queries as suggestions

    out = []
    with MediaRec(home) as engine, TestClient(create_app(engine), base_url="http://127.0.0.1:8000") as client:
        for name, url in views.items():
            for _ in range(3):  # warm the page cache and the template
                assert client.get(url).status_code == 200, url
            times = []
            for _ in range(requests):
                if name.endswith("(cold)"):
                    suggestions._CACHE.clear()  # what every 30th second's request pays once
                t0 = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            times.sort()
            found = r.text.split('id="result-count">', 1)[1].split(" item", 1)[0]
            row = {
                "view": name,
                "url": url,
                "items_matched": found,
                "p50_ms": round(statistics.median(times), 1),
                "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 1),
                "max_ms": round(times[-1], 1),
            }
            out.append(row)
            print(
                f"{name:<28} p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                f"max {row['max_ms']:7.1f} ms  ({found} items)  {url}",
                file=sys.stderr,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--home", default=None, help="reuse or keep this data home (default: a temp folder)")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        home = Path(args.home or tmp)
        sample = (
            build(home, args.items)
            if not (home / "mediarec.db").exists()
            else {"common_tag": "tag000", "rare_tag": "tag299", "creator": "Creator 0", "word": "jazz"}
        )
        last = max(1, -(-args.items // 48))
        views = {
            "first page": "/",
            "first page (cold)": "/",
            "deep page (last)": f"/?page={last}",
            "middle page": f"/?page={last // 2}",
            "common tag": f"/?tag={sample['common_tag']}",
            "common tag, deep page": f"/?tag={sample['common_tag']}&page=200",
            "rare tag": f"/?tag={sample['rare_tag']}",
            "text search": f"/?q={sample['word']}",
            "text search, deep page": f"/?q={sample['word']}&page=100",
            "kind + creator": f"/?kind=video&creator={sample['creator'].replace(' ', '+')}",
            "search + tag + kind": f"/?q={sample['word']}&tag={sample['common_tag']}&kind=video",
        }
        rows = measure(home, views, args.requests)
    result = {
        "command": "python " + shlex.join(sys.argv),
        "items": args.items,
        "requests_per_view": args.requests,
        "python": platform.python_version(),
        "rows": rows,
    }
    print("| view | matches | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['view']} | {r['items_matched']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Content neighbours per request: the exact product against the HNSW index, side by side.

Synthetic 384-d item vectors (bench/scale_data.py: topic centres + noise), ``--requests`` seed sets of
``--seeds`` random items each, 10% of items filtered out per request; the ranking's content source
(``rank.candidates.content_source``) asked for 200 candidates with and without the index. Reports the
index build time, per-request p50/p99 of both, their ratio, and how much of the exact top 50 and top
200 the index returns.

    .venv/bin/python bench/bench_neighbours.py --items 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_data  # the sibling module, importable once the path is set
from mediarec.rank.candidates import content_source
from mediarec.rank.neighbours import VectorIndex


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=200)
    args = parser.parse_args(argv)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    cat = scale_data.catalogue(args.items)
    vectors = np.vstack(
        [scale_data.vectors(cat, s, min(args.items, s + 50_000)) for s in range(0, args.items, 50_000)]
    )
    has = np.ones(args.items, dtype=bool)
    started = time.perf_counter()
    index = VectorIndex(vectors, has, exact_max=0)
    build_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    exact_t, index_t, top50, top200 = [], [], [], []
    for _ in range(args.requests):
        seeds = rng.choice(args.items, args.seeds, replace=False)
        allowed = rng.random(args.items) > 0.1
        allowed[seeds] = False
        t = time.perf_counter()
        a = content_source(vectors, has, seeds, allowed, args.candidates, "text")
        exact_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = content_source(vectors, has, seeds, allowed, args.candidates, "text", index)
        index_t.append(time.perf_counter() - t)
        top50.append(len(set(a.positions[:50].tolist()) & set(b.positions[:50].tolist())) / 50)
        top200.append(len(set(a.positions.tolist()) & set(b.positions.tolist())) / len(a.positions))

    def ms(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)) * 1000, 2)

    out = {
        "items": args.items,
        "seeds": args.seeds,
        "candidates": args.candidates,
        "build_s": round(build_s, 1),
        "exact_p50_ms": ms(exact_t, 50),
        "exact_p99_ms": ms(exact_t, 99),
        "index_p50_ms": ms(index_t, 50),
        "index_p99_ms": ms(index_t, 99),
        "speedup_p50": round(float(np.median(exact_t) / np.median(index_t)), 1),
        "overlap_top50": round(float(np.mean(top50)), 3),
        "overlap_top200": round(float(np.mean(top200)), 3),
        "uptime_before": load,
        "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

"""ALS through mediarec versus implicit called directly, on the ML-1M split of ../shared/data.

Same matrix, factors, regularisation, alpha, iterations, seed and thread settings on both sides;
training alternates between the two for ``--repeats`` rounds and the median is reported. Then
recommend latency for single users and for a batch of 1,000, again for both.

    .venv/bin/python bench/bench_als.py [--data ../shared/data/ml-1m-llm] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from mediarec import recommenders
from mediarec.datasets import load_dataset
from mediarec.eval.metrics import ndcg_at_k, recall_at_k
from mediarec.eval.splits import make_split

K = 20


def _implicit_model(p: recommenders.ALSParams):  # type: ignore[no-untyped-def]
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(
        factors=p.factors,
        regularization=p.regularization,
        alpha=p.alpha,
        iterations=p.iterations,
        random_state=p.seed,
        num_threads=p.threads,
        calculate_training_loss=False,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-1m-llm")
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    dataset = load_dataset(args.data)
    split = make_split(dataset, "given", seed=42)
    train = dataset.interactions(events=split.train)
    test = dataset.interactions(events=split.test, user_ids=train.user_ids).binary()
    load_seconds = time.perf_counter() - started
    params = recommenders.ALSParams(factors=args.factors, iterations=args.iterations)
    print(f"data: {train.n_users} users x {train.n_items} items, {train.nnz} train / {test.nnz} test pairs")
    print(f"ALS params: {params}")

    ours_t: list[float] = []
    raw_t: list[float] = []
    ours = raw = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = recommenders.ALSRecommender(params).fit(train)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        # implicit's own advice for its CPU models: BLAS single-threaded while it trains.
        with threadpool_limits(limits=1, user_api="blas"):
            raw = _implicit_model(params)
            raw.fit(train.matrix, show_progress=False)
        raw_t.append(time.perf_counter() - t0)
    assert ours is not None and raw is not None

    users = np.arange(train.n_users)
    ours_ids, _ = ours.recommend(users, n=K)
    raw_ids, _ = raw.recommend(users, train.matrix, N=K, filter_already_liked_items=True)
    metrics = {
        "mediarec": {"recall@20": recall_at_k(ours_ids, test), "ndcg@20": ndcg_at_k(ours_ids, test)},
        "implicit": {"recall@20": recall_at_k(raw_ids, test), "ndcg@20": ndcg_at_k(raw_ids, test)},
    }

    rng = np.random.default_rng(0)
    singles = rng.integers(0, train.n_users, 500)
    lat: dict[str, list[float]] = {"mediarec": [], "implicit": []}
    for u in singles:
        t0 = time.perf_counter()
        ours.recommend([u], n=K)
        lat["mediarec"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw.recommend(int(u), train.matrix[int(u)], N=K, filter_already_liked_items=True)
        lat["implicit"].append(time.perf_counter() - t0)
    batch = rng.choice(train.n_users, 1000, replace=False)
    batch_t: dict[str, list[float]] = {"mediarec": [], "implicit": []}
    for _ in range(5):
        t0 = time.perf_counter()
        ours.recommend(batch, n=K)
        batch_t["mediarec"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw.recommend(batch, train.matrix[batch], N=K, filter_already_liked_items=True)
        batch_t["implicit"].append(time.perf_counter() - t0)

    fit_ours, fit_raw = statistics.median(ours_t), statistics.median(raw_t)
    result = {
        "command": " ".join(
            shlex.quote(a) for a in [sys.executable.replace(os.getcwd() + "/", ""), *sys.argv]
        ),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_seconds": load_seconds,
        "fit_seconds": {
            "mediarec": fit_ours,
            "implicit": fit_raw,
            "all_mediarec": ours_t,
            "all_implicit": raw_t,
        },
        "fit_overhead": fit_ours / fit_raw - 1.0,
        "metrics": metrics,
        "single_user_ms": {
            name: {"p50": 1e3 * float(np.percentile(v, 50)), "p99": 1e3 * float(np.percentile(v, 99))}
            for name, v in lat.items()
        },
        "batch_1000_ms": {name: 1e3 * statistics.median(v) for name, v in batch_t.items()},
    }
    print(
        f"fit (median of {args.repeats}): mediarec {fit_ours:.2f}s, implicit {fit_raw:.2f}s, "
        f"ratio {fit_ours / fit_raw:.3f} (overhead {100 * result['fit_overhead']:+.1f}%)"
    )
    for name, m in metrics.items():
        print(f"{name:>9}: Recall@20 {m['recall@20']:.4f}  NDCG@20 {m['ndcg@20']:.4f}")
    for name in ("mediarec", "implicit"):
        s = result["single_user_ms"][name]  # type: ignore[index]
        print(
            f"{name:>9}: single user p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms; "
            f"batch of 1000 {result['batch_1000_ms'][name]:.1f} ms"
        )  # type: ignore[index]
    print(f"command: {result['command']}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

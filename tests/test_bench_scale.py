"""The scale benchmark at toy size, so that its generator and steps cannot rot unnoticed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_bench_scale_runs_end_to_end_at_toy_size(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_scale
        import scale_data
    finally:
        sys.path.remove(str(BENCH))
    cat = scale_data.catalogue(300)
    ev = scale_data.event_arrays(cat, 60, 2000)
    assert set(ev["type"].tolist()) <= {"view", "skip"} and ev["like"].any()
    assert len(set(ev["item"].tolist())) > 30  # Zipf, yet more than a handful of items
    out = bench_scale.main(
        [
            "--items",
            "300",
            "--events",
            "2000",
            "--users",
            "60",
            "--requests",
            "5",
            "--warm",
            "2",
            "--home",
            str(tmp_path / "home"),
            "--skip-http",
        ]
    )
    assert out["import"]["items"] == 300
    assert out["import"]["events"] >= 2000 and out["import"]["events_bad"] == 0
    assert out["train_als"]["items"] == 300 and out["train_als"]["peak_rss_mb"] > 0
    assert out["recommend_in_process"]["requests"] == 5
    assert out["recommend_in_process"]["p99_ms"] > 0
    assert out["store_bytes"] > 0 and out["delete_user"]["delete_user_s"] > 0
    # A serving-only run draws the same users without generating the events, and reports what the
    # process holds step by step and when timing starts (resident memory, not only the peak).
    assert np.array_equal(scale_data.active_users(60, 2000), np.unique(ev["user"]))
    sizes = ["--items", "300", "--events", "2000", "--users", "60", "--requests", "5", "--warm", "2"]
    trace = tmp_path / "trace.jsonl"
    again = bench_scale.main(
        [*sizes, "--home", str(tmp_path / "home"), "--stages", "memory,recommend", "--trace", str(trace)]
    )
    steps = [s["step"] for s in again["memory"]["steps"]]
    assert steps[:4] == ["start", "catalogue snapshot", "model", "model view"] and "first recommend" in steps
    assert all(s["rss_mb"] > 0 for s in again["memory"]["steps"])
    assert again["recommend_in_process"]["memory_timed_start"]["rss_mb"] > 0
    # Each timed request's steps (bench/_request_trace.py): their own times add up to the request's.
    traced = again["recommend_in_process"]["trace"]
    assert traced["requests"] == 5 and len(trace.read_text().splitlines()) == 5
    assert {"sql_stamps", "history", "cf_vector", "mmr", "explain"} <= set(traced["steps_ms"])
    for rec in traced["slowest"]:
        own = sum(v[0] for v in rec["steps"].values()) + rec["untraced_ms"]
        assert abs(own - rec["ms"]) < 0.05 + 0.01 * rec["ms"] and rec["majflt"] >= 0
    from mediarec.rank.neighbours import VectorIndex

    assert not hasattr(VectorIndex.search, "__wrapped__")  # the wrappers are taken off after

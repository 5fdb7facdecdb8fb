"""Ray ingest against the local process pool, at 1 and 2 workers, on the same files in one run.

A seeded sample of the demo's narrated clips is ingested (every stage but the LLM, model loading
included) into four fresh homes: process pool 1 worker, Ray (`ray_address=local`) 1 worker, pool 2,
Ray 2. Reported: files per minute, the 2-vs-1 speed-up of each engine (goal >= 1.7x) and Ray
against the pool at the same worker count (goal: at most 10% slower). The Ray instance is started
by this script before each Ray run and its start-up time is reported apart (a cluster is started
once, not per batch); the Ray wall time is also given with it included.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_ray_ingest.py --media DIR [--clips 10]

``--media`` is a folder of demo media (`mediarec demo` renders it into `<home>/demo-media`); without
it the demo media is rendered into a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mediarec.engine import MediaRec
from mediarec.pipeline import IngestOptions
from mediarec.settings import load_settings


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _one(tmp: Path, folder: Path, engine: str, workers: int) -> dict[str, Any]:
    home = tmp / f"home-{engine}-{workers}"
    over: dict[str, Any] = {"ray_address": "local", "ray_workers": workers} if engine == "ray" else {}
    settings = load_settings(home, **over)
    start_seconds = 0.0
    ray = None
    if engine == "ray":
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        start_seconds = time.perf_counter() - t0
    try:
        with MediaRec(settings=settings) as rec:
            t0 = time.perf_counter()
            summary = rec.ingest([folder], IngestOptions(workers=workers))
            wall = time.perf_counter() - t0
    finally:
        if ray is not None:
            ray.shutdown()
    processed = summary.count("processed")
    return {
        "engine": engine,
        "workers": workers,
        "processed": processed,
        "failed": summary.count("failed"),
        "wall_seconds": round(wall, 2),
        "ray_start_seconds": round(start_seconds, 2),
        "files_per_minute": round(processed / wall * 60, 2),
        "files_per_minute_with_start": round(processed / (wall + start_seconds) * 60, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--media", type=Path, default=None, help="folder of demo media (default: render it)")
    ap.add_argument("--clips", type=int, default=10, help="narrated clips sampled (seeded)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warm", action="store_true", help="an untimed pass first (page cache)")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    results: dict[str, Any] = {"command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])}
    results["uptime_before"] = _uptime()
    with tempfile.TemporaryDirectory(prefix="mediarec-bench-ray-") as tmp_name:
        tmp = Path(tmp_name)
        media = args.media
        if media is None:
            from mediarec.datasets.media_demo import build_demo_media

            media = build_demo_media(tmp / "demo-media").out_dir
        clips = sorted(p for p in Path(media).glob("*-[0-9].mp4"))
        sample = sorted(random.Random(args.seed).sample(clips, min(args.clips, len(clips))))
        folder = tmp / "sample"
        folder.mkdir()
        for clip in sample:
            shutil.copy(clip, folder / clip.name)
        results["files"] = [p.name for p in sample]
        if args.warm:
            # One untimed pass over the sample reads the clips and every model file into the page
            # cache, so the first timed run does not pay for the disk alone.
            with MediaRec(settings=load_settings(tmp / "home-warm-up")) as rec:
                rec.ingest([folder], IngestOptions(workers=2))
        runs = [_one(tmp, folder, engine, w) for w in (1, 2) for engine in ("pool", "ray")]
    results["runs"] = runs
    results["uptime_after"] = _uptime()
    by = {(r["engine"], r["workers"]): r["files_per_minute"] for r in runs}
    results["speedup_2_vs_1"] = {e: round(by[(e, 2)] / by[(e, 1)], 3) for e in ("pool", "ray")}
    results["ray_vs_pool"] = {w: round(by[("ray", w)] / by[("pool", w)], 3) for w in (1, 2)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

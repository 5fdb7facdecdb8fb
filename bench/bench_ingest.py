"""Content-understanding speed and memory: real-time factor per stage and overall, peak memory.

Ingests the demo media (24 narrated clips + Big Buck Bunny + two speech recordings) into a fresh data
home with the real stages (no LLM), model loading included; then Big Buck Bunny alone, cold (loading
every model for 5 s of video) and warm (models already loaded, in-process). Real-time factor = seconds
of media per wall second; per stage, media seconds per second that stage ran (one core each).

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_ingest.py [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

from mediarec.datasets.media_demo import build_demo_media
from mediarec.engine import MediaRec
from mediarec.pipeline import IngestOptions, IngestSummary, default_extractors, ingest


def _run(engine: MediaRec, paths: list[Path], workers: int) -> tuple[IngestSummary, float]:
    started = time.perf_counter()
    summary = engine.ingest(paths, IngestOptions(workers=workers))
    return summary, time.perf_counter() - started


def _figures(summary: IngestSummary, wall: float) -> dict[str, object]:
    media = sum(o.media_seconds for o in summary.outcomes if o.status == "processed")
    stage_seconds: dict[str, float] = {}
    stage_media: dict[str, float] = {}
    for o in summary.outcomes:
        for stage, sec in o.seconds.items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + sec
            stage_media[stage] = stage_media.get(stage, 0.0) + o.media_seconds
    return {
        "files": len(summary.outcomes),
        "processed": summary.count("processed"),
        "failed": summary.count("failed"),
        "media_seconds": media,
        "wall_seconds": wall,
        "overall_rtf": media / wall if wall else 0.0,
        "stage_seconds": stage_seconds,
        "stage_rtf": {s: stage_media[s] / sec for s, sec in stage_seconds.items() if sec > 0},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    results: dict[str, object] = {"command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])}
    with tempfile.TemporaryDirectory(prefix="mediarec-bench-") as tmp:
        media_dir = Path(tmp) / "media"
        t0 = time.perf_counter()
        catalogue = build_demo_media(media_dir)
        results["render_seconds"] = time.perf_counter() - t0
        engine = MediaRec(Path(tmp) / "home")
        # Load nothing before the timed run: model loading in the workers is part of the cost.
        summary, wall = _run(engine, [catalogue.out_dir], args.workers)
        results["demo_catalogue"] = _figures(summary, wall)
        bunny = next(c.path for c in catalogue.clips if c.path.name.startswith("bigbuckbunny"))
        fresh = MediaRec(Path(tmp) / "home-bunny")
        summary, wall = _run(fresh, [bunny], args.workers)
        results["bigbuckbunny_cold"] = _figures(summary, wall)
        # Warm: the same stage objects, models already loaded by a first pass into another home.
        stages = default_extractors(engine.settings)
        warm_up = MediaRec(Path(tmp) / "home-warm-up")
        ingest(warm_up.store, warm_up.settings, [bunny], IngestOptions(workers=0), extractors=stages)
        warm = MediaRec(Path(tmp) / "home-warm")
        t0 = time.perf_counter()
        summary = ingest(warm.store, warm.settings, [bunny], IngestOptions(workers=0), extractors=stages)
        results["bigbuckbunny_warm"] = _figures(summary, time.perf_counter() - t0)
        again, wall_again = _run(engine, [catalogue.out_dir], args.workers)
        results["second_run_seconds"] = wall_again
        results["second_run_skipped"] = again.count("skipped")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_rss_mb"] = {"parent": parent, "largest_worker": children}
    results["cores"] = os.cpu_count()
    for name in ("demo_catalogue", "bigbuckbunny_cold", "bigbuckbunny_warm"):
        f = results[name]
        assert isinstance(f, dict)
        print(
            f"{name}: {f['processed']}/{f['files']} files, {f['media_seconds']:.0f}s of media in "
            f"{f['wall_seconds']:.1f}s wall -> {f['overall_rtf']:.1f}x real time"
        )
        print(
            "  per stage (x real time on one core): "
            + ", ".join(f"{s} {r:.0f}x" for s, r in f["stage_rtf"].items())
        )
    print(
        f"second run over the demo media: {results['second_run_skipped']} skipped in "
        f"{results['second_run_seconds']:.1f}s"
    )
    print(f"peak RSS: parent {parent:.0f} MB, largest worker {children:.0f} MB")
    print(f"command: {results['command']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Moment search (issue 12): the labelled moment questions of ``bench/truth/moments.json``.

A question is answered when, among the top 5 items ``search`` returns, the labelled clip is there
with a returned time range overlapping the labelled one. Seconds per query (after the first, which
builds the segment index) are printed too.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_moments.py --demo-home /work/demo-home
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mediarec.engine import MediaRec

TRUTH = Path(__file__).parent / "truth" / "moments.json"
TOP = 5


def run(home: Path) -> dict[str, Any]:
    questions = json.loads(TRUTH.read_text())["questions"]
    engine = MediaRec(home)
    started = time.perf_counter()
    engine.search("warm up")  # builds the segment index (and loads the text encoder) once
    build = time.perf_counter() - started
    hits, item_only, seconds, misses = 0, 0, [], []
    for q in questions:
        t = time.perf_counter()
        found = engine.search(q["q"], TOP)
        seconds.append(time.perf_counter() - t)
        mine = [h for h in found if h.item_id == q["item"]]
        overlap = any(r["start"] < q["end"] and r["end"] > q["start"] for h in mine for r in h.ranges)
        hits += overlap
        item_only += bool(mine)
        if not overlap:
            misses.append(
                {
                    "q": q["q"],
                    "want": [q["item"], q["start"], q["end"]],
                    "got": [[h.item_id, h.ranges[0]["start"], h.ranges[0]["end"]] for h in found],
                }
            )
    return {
        "questions": len(questions),
        "answered_top5": hits,
        "share_answered": hits / len(questions),
        "right_clip_top5": item_only,
        "index_build_seconds": build,
        "query_ms_mean": 1000 * statistics.mean(seconds),
        "query_ms_max": 1000 * max(seconds),
        "misses": misses,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--demo-home", type=Path, required=True, help="a `mediarec demo` home (copied, not changed)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(args.demo_home, home)
        out = run(home)
    print(" ".join(sys.argv))
    for k, v in out.items():
        if k != "misses":
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    for m in out["misses"]:
        print("MISS", json.dumps(m))


if __name__ == "__main__":
    main()

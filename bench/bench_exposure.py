"""Exposure of new uploads: after ingesting 4 new clips into the demo, who gets each one in their top 10.

Works on a copy of a demo home (``mediarec demo``'s output, 60 users with planted tastes and a
trained model; it is never modified). Renders the four narrated ``new-*`` clips of
:mod:`mediarec.datasets.media_extra` (cooking, football, science, gardening: the demo's own topics,
no viewer has seen them), ingests them with the real content pipeline (no retraining), then ranks
the top ``-n`` for each of the 60 users with the default options and counts, per new clip, how
many users get it and how many of those users' planted tastes include its topic. The same run
with the audience bound off (``new_item_share=1``, what ranking did before) is printed beside it.

Goal (issue 13): each new clip appears to at most 20% of the users, and at least 70% of those
users' planted tastes match its topic.

    flock /tmp/mediarec-heavy.lock env MEDIAREC_KIT_DIR=$PWD/.kit \\
        .venv/bin/python bench/bench_exposure.py --home /work/demo-home
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mediarec.datasets import demo
from mediarec.engine import MediaRec

NEW_CLIPS = ("new-cooking-1", "new-football-1", "new-science-1", "new-gardening-1")


def topic(item: str) -> str:
    return item.removeprefix("new-").rsplit("-", 1)[0]


def exposure(engine: MediaRec, n: int, **overrides: float) -> dict[str, list[str]]:
    options = engine.rank_options.with_overrides(**overrides)
    shown: dict[str, list[str]] = {i: [] for i in NEW_CLIPS}
    for user in demo.user_tastes():
        for rec in engine.recommend(user, n=n, options=options):
            if rec.item_id in shown:
                shown[rec.item_id].append(user)
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a demo data home (copied, never changed)")
    parser.add_argument("-n", type=int, default=10, help="list length")
    parser.add_argument("--keep", default=None, help="work here and keep it (default: a temp folder)")
    args = parser.parse_args()
    from mediarec.datasets.media_extra import build_extra_media
    from mediarec.pipeline import IngestOptions

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-exposure-"))
    home = work / "home"
    if not home.exists():
        shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("*.lock"))
    engine = MediaRec(home)
    t0 = time.perf_counter()
    made = build_extra_media(work / "new-clips", only=NEW_CLIPS)
    summary = engine.ingest([made.manifest], IngestOptions(workers=2))
    print(
        f"rendered and ingested {len(made.clips)} new clips in {time.perf_counter() - t0:.0f}s: "
        f"{summary.count('processed')} processed, {summary.count('skipped')} already done, "
        f"{summary.count('failed')} failed"
    )
    if summary.count("failed"):
        for outcome in summary.failed:
            print(f"  {outcome.path}: {outcome.errors}")
        return 1
    tastes = demo.user_tastes()
    users = len(tastes)
    bounded = exposure(engine, args.n)
    unbounded = exposure(engine, args.n, new_item_share=1.0)
    print(f"\n{users} users, top {args.n}, default options (explore ε={engine.rank_options.explore_epsilon})")
    print(
        "| new clip | topic | users with it (bound on) | of them, taste matches | users with it (bound off) "
        "| of them, taste matches |"
    )
    print("|---|---|---|---|---|---|")
    ok = True
    for item in NEW_CLIPS:
        row = [item, topic(item)]
        for shown in (bounded, unbounded):
            got = shown[item]
            match = sum(topic(item) in tastes[u] for u in got)
            row += [
                f"{len(got)} ({len(got) / users:.0%})",
                f"{match} ({match / len(got):.0%})" if got else "-",
            ]
        print("| " + " | ".join(row) + " |")
        got = bounded[item]
        ok &= len(got) <= 0.2 * users and (
            not got or sum(topic(item) in tastes[u] for u in got) >= 0.7 * len(got)
        )
    print(f"\ngoal (each <= 20% of users, >= 70% of them matching): {'met' if ok else 'NOT met'}")
    engine.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())

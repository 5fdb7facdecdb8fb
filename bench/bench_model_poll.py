"""What looking for a new model version costs a request: before and after LiveModels.

Before, every request listed the model's folder (``repository.versions``: a stat of every entry and
of each version's meta.json) and stat'ed the newest version. Now a request between two checks costs
a clock read under a lock, and one request per ``model_check_seconds`` pays for the check itself
(``repository.newest_version``: one listing and two stats, whatever the number of versions). Measured
with 1, 20 and 200 saved versions of a small ALS model on the home's file system.

    .venv/bin/python bench/bench_model_poll.py [--repeats 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mediarec import recommenders
from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.recommenders import repository
from mediarec.recommenders.live import LiveModels, folder_ident


def per_call_us(fn: Callable[[], object], repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(5):  # the best of five rounds: the least disturbed by other work on the machine
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats * 1e6)
    return best


def old_check(root: Path) -> object:
    found = repository.versions("", "als", root=root)
    return folder_ident(found[-1])


def new_check(root: Path) -> object:
    newest = repository.newest_version("", "als", root=root)
    assert newest is not None
    return folder_ident(newest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with MediaRec(Path(tmp) / "home") as engine:
            load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
            data = engine.interactions()
        model = recommenders.create("als", factors=4, iterations=1).fit(data)
        root = Path(tmp) / "models"
        print(f"load average {os.getloadavg()[0]:.2f}; microseconds per request (best of 5 x {args.repeats})")
        print("| versions | before: list + stat every request | now: between checks | now: the check (1/s) |")
        print("|---|---|---|---|")
        saved = 0
        for count in (1, 20, 200):
            while saved < count:
                repository.save(model, "", "als", root=root)
                saved += 1
            live = LiveModels(root, check_seconds=3600)
            live.get("als")
            before = per_call_us(lambda: old_check(root), args.repeats)
            between = per_call_us(lambda live=live: live.get("als"), args.repeats)
            check = per_call_us(lambda: new_check(root), args.repeats)
            print(f"| {count} | {before:.1f} | {between:.2f} | {check:.1f} |")


if __name__ == "__main__":
    main()

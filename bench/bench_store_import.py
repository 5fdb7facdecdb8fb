"""Import speed of the store backends: a dataset imported into a fresh store, side by side.

    .venv/bin/python bench/bench_store_import.py ../shared/data/ml-100k --repeats 3 \
        [--baseline-src /tmp/before/src] [--postgresql]

Each run is a fresh process importing the whole dataset through ``MediaRec.import_data`` (the path of
``mediarec import``) into a fresh store; runs alternate between the sides so that load changes hit all
alike. ``--baseline-src`` imports mediarec from another source tree (``git archive <rev> src | tar -x``)
for a before/after of the SQLite path; ``--postgresql`` adds a throw-away local cluster
(tests/pg_cluster.py: fsync off, on this machine). Prints events/s per run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from mediarec.engine import MediaRec
from mediarec.settings import load_settings
home = tempfile.mkdtemp(prefix="bench-import-")
engine = MediaRec(settings=load_settings(home, store_url=sys.argv[3] or None))
start = time.perf_counter()
engine.import_data(sys.argv[2])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "events": engine.store.counts()["interactions"]}))
"""


def run(src: Path, data: Path, url: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAREC_")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(data), url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["events"] / result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    sides: dict[str, tuple[Path, str]] = {"sqlite (this tree)": (REPO / "src", "")}
    if args.baseline_src:
        sides["sqlite (baseline tree)"] = (args.baseline_src, "")
    cluster = None
    if args.postgresql:
        sys.path.insert(0, str(REPO))
        from tests.pg_cluster import Cluster, _bin_dir

        bin_dir = _bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL binaries not found under /usr/lib/postgresql")
        cluster = Cluster(bin_dir)
        cluster.start()
        sides["postgresql (this tree)"] = (REPO / "src", "pg")
    print(f"load: {os.getloadavg()[0]:.2f}  data: {args.data}")
    rates: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for repeat in range(args.repeats):
            for name, (src, url) in sides.items():
                if url == "pg":
                    assert cluster is not None
                    database = f"bench_{repeat}"
                    cluster.admin(f"CREATE DATABASE {database}")
                    url = cluster.url(database)
                rate = run(src, args.data, url)
                rates[name].append(rate)
                print(f"  {name:<24} run {repeat + 1}: {rate:,.0f} events/s")
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load: {os.getloadavg()[0]:.2f}")
    base = statistics.median(rates["sqlite (this tree)"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<24} median {median:,.0f} events/s  ({median / base:.2f}x sqlite, this tree)")


if __name__ == "__main__":
    main()

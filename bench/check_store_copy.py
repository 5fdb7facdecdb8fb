"""Check ``mediarec store copy`` on a real home: counts, checksums and recommendations before and after.

Given an embedded home (SQLite store, a trained model) and a PostgreSQL server, the script:

1. ranks a seeded sample of users on the embedded store (the full answers: items, scores, reasons);
2. runs ``mediarec store copy --to`` (the CLI, a subprocess) into a fresh database, timed;
3. counts every table on both sides itself (and keeps the CLI's checksums), then ranks the same users
   on the copy with the same model files and compares the answers field by field;
4. reruns the copy: it must copy 0 rows and change no count or checksum (idempotence);
5. copies into a second fresh database, kills the CLI (SIGKILL) once it is inside the interactions
   table, and runs it again: the resumed copy must end with the same counts and checksums as the
   first, and must not copy the tables finished before the kill again (resumability).

The databases ``<prefix>_full`` and ``<prefix>_resume`` are dropped first and left for inspection.

    .venv/bin/python bench/check_store_copy.py --home /tmp/pgh-ml1m \\
        --server postgresql://postgres@127.0.0.1:55987 --users 200 --json /tmp/copy-ml1m.json

Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.engine import MediaRec
from mediarec.settings import load_settings
from mediarec.store import Store
from mediarec.store.schema import COPY_ORDER

MEDIAREC = str(Path(sys.executable).with_name("mediarec"))
ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+([0-9a-f]{16})(\s+DIFFERS)?$")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def fresh_database(server: str, name: str) -> str:
    admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(server, f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def table_counts(url: str) -> dict[str, int]:
    with Store(url) as store:
        return {
            t.name: int(store.conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0])
            for t, _ in COPY_ORDER
        }


def copy_cli(home: Path, target: str) -> dict[str, Any]:
    """One ``mediarec store copy`` run: exit status, seconds, and its per-table report."""
    started = time.perf_counter()
    out = subprocess.run(
        [MEDIAREC, "--home", str(home), "store", "copy", "--to", target],
        capture_output=True,
        text=True,
        env={**os.environ, "MEDIAREC_STORE_URL": ""},
    )
    seconds = time.perf_counter() - started
    tables = {}
    for line in out.stdout.splitlines():
        m = ROW.match(line.strip())
        if m:
            name, src, dst, copied, src_sum, dst_sum, differs = m.groups()
            tables[name] = {
                "source": int(src),
                "target": int(dst),
                "copied": int(copied),
                "source_sum": src_sum,
                "target_sum": dst_sum,
                "same": differs is None,
            }
    if out.returncode != 0:
        print(out.stdout, out.stderr, file=sys.stderr)
    return {"rc": out.returncode, "seconds": round(seconds, 2), "tables": tables}


def killed_copy(home: Path, target: str, server: str, after_rows: int) -> dict[str, Any]:
    """Start a copy and SIGKILL it once the target holds ``after_rows`` interactions."""
    import psycopg

    proc = subprocess.Popen(
        [MEDIAREC, "--home", str(home), "store", "copy", "--to", target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MEDIAREC_STORE_URL": ""},
    )
    held = 0
    deadline = time.monotonic() + 600
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    row = conn.execute("SELECT count(*) FROM interactions").fetchone()
                    held = int(row[0]) if row else 0
                except psycopg.errors.UndefinedTable:
                    held = 0  # the copy has not created the schema yet
                if held >= after_rows:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.05)
    finally:
        proc.wait()
    return {"killed": proc.returncode == -signal.SIGKILL, "interactions_at_kill": held}


def recommendations(home: Path, store_url: str | None, users: list[str], model: str) -> list[Any]:
    rec = MediaRec(settings=load_settings(home, store_url=store_url))
    try:
        return [[r.to_dict() for r in rec.recommend(u, n=10, model=model)] for u in users]
    finally:
        rec.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="an embedded home with a trained model")
    parser.add_argument("--server", required=True, help="postgresql://user@host:port (no database)")
    parser.add_argument("--prefix", default="copycheck", help="names of the databases made")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="als")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    home = args.home
    out: dict[str, Any] = {"home": str(home), "uptime_before": uptime()}
    source_url = f"sqlite:///{home / 'mediarec.db'}"

    with Store(source_url) as store:
        everyone = [u for (u,) in store.conn.execute("SELECT external_id FROM users ORDER BY id")]
    rng = np.random.default_rng(args.seed)
    users = [str(u) for u in rng.choice(everyone, min(args.users, len(everyone)), replace=False)]
    before = recommendations(home, None, users, args.model)
    source_counts = table_counts(source_url)

    full = fresh_database(args.server, f"{args.prefix}_full")
    first = copy_cli(home, full)
    out["copy"] = first
    target_counts = table_counts(full)
    after = recommendations(home, full, users, args.model)
    differing = [u for u, b, a in zip(users, before, after, strict=True) if b != a]
    out["counts"] = {"source": source_counts, "target": target_counts, "same": source_counts == target_counts}
    out["recommendations"] = {
        "users": len(users),
        "seed": args.seed,
        "model": args.model,
        "items_compared": sum(len(b) for b in before),
        "users_differing": differing,
        "empty_answers": sum(1 for b in before if not b),
    }

    rerun = copy_cli(home, full)
    out["rerun"] = {
        "rc": rerun["rc"],
        "seconds": rerun["seconds"],
        "copied": sum(t["copied"] for t in rerun["tables"].values()),
        "same_checksums": {k: v["target_sum"] for k, v in rerun["tables"].items()}
        == {k: v["target_sum"] for k, v in first["tables"].items()},
        "same_counts": table_counts(full) == target_counts,
    }

    resume = fresh_database(args.server, f"{args.prefix}_resume")
    kill = killed_copy(home, resume, args.server, after_rows=source_counts["interactions"] // 3)
    kill["counts_at_kill"] = table_counts(resume)
    resumed = copy_cli(home, resume)
    out["resume"] = {
        **kill,
        "rc": resumed["rc"],
        "seconds": resumed["seconds"],
        "copied": {k: v["copied"] for k, v in resumed["tables"].items()},
        "same_checksums_as_first": {k: v["target_sum"] for k, v in resumed["tables"].items()}
        == {k: v["target_sum"] for k, v in first["tables"].items()},
        "same_counts": table_counts(resume) == source_counts,
    }
    out["uptime_after"] = uptime()

    finished_before_kill = [
        t.name
        for t, _ in COPY_ORDER[: [t.name for t, _ in COPY_ORDER].index("interactions")]
        if kill["counts_at_kill"][t.name] == source_counts[t.name] and t.name != "store_stamps"
    ]
    ok = (
        first["rc"] == 0
        and all(t["same"] for t in first["tables"].values())
        and out["counts"]["same"]
        and not differing
        and rerun["rc"] == 0
        and out["rerun"]["copied"] == 0
        and out["rerun"]["same_checksums"]
        and out["rerun"]["same_counts"]
        and kill["killed"]
        and resumed["rc"] == 0
        and out["resume"]["same_checksums_as_first"]
        and out["resume"]["same_counts"]
        and all(resumed["tables"][t]["copied"] == 0 for t in finished_before_kill)
    )
    out["ok"] = ok
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

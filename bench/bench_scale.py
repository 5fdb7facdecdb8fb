"""Scale benchmark: a synthetic catalogue and its behaviour, through the normal import path.

Generates ``--items`` items (titles, creators, tags, kinds, durations, a 384-d vector each) and about
``--events`` events of ``--users`` users (Zipf popularity, sessions of consecutive views, watch
fractions, likes and skips; bench/scale_data.py), then measures on the store at ``--store-url``
(default: SQLite in the bench home; a ``postgresql://`` URL once the store supports it):

- import: items and events through ``datasets.loader.load_rows`` (what ``mediarec import`` runs),
  events per second; the vectors through ``Store.add_features`` in blocks of 1,000 (ingest stores a
  file's features in one such call);
- store size (SQLite file + WAL);
- ALS training in a subprocess (``MediaRec.train("als")``): seconds and peak memory (ru_maxrss);
- ``recommend`` p50/p99 in process and over HTTP (a real ``mediarec serve`` subprocess) at
  ``--clients`` concurrent clients, after warm-up requests (the first request of a process loads
  the catalogue snapshot, the model view and the vector index: reported apart);
- the dashboard catalogue page (first page, a deep page, a tag filter);
- ``mediarec delete-user`` of one active user (CLI subprocess: store cascade + model scrub).

    .venv/bin/python bench/bench_scale.py --items 20000 --events 400000 --users 20000
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_data  # the sibling modules, importable once the path is set
from _peers import stop, wait_health
from _request_trace import RequestTrace
from _server import free_port
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.serve.dashboard_pages import PAGE_SIZE
from mediarec.settings import load_settings

MEDIAREC = str(Path(sys.executable).with_name("mediarec"))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000.0 if values else float("nan")


def engine(home: Path, store_url: str) -> MediaRec:
    return MediaRec(settings=load_settings(home, store_url=store_url or None))


def env_for(home: Path, store_url: str) -> dict[str, str]:
    env = {**os.environ, "MEDIAREC_HOME": str(home)}
    if store_url:
        env["MEDIAREC_STORE_URL"] = store_url
    return env


def import_all(
    rec: MediaRec, cat: scale_data.Catalogue, ev: dict[str, np.ndarray], vectors: bool = True
) -> dict[str, Any]:
    store, batch = rec.store, rec.settings.import_batch_size
    started = time.perf_counter()
    # As `mediarec import` reads a big file: in a child process unless the setting turns it off.
    child = rec.settings.import_reader_process
    items = load_rows(
        store, scale_data.item_rows(cat), "synthetic-items", "synthetic",
        batch_size=batch, reader_process=child,
    )
    items_s = time.perf_counter() - started
    started = time.perf_counter()
    events = load_rows(
        store, scale_data.event_rows(ev), "synthetic-events", "synthetic",
        batch_size=batch, reader_process=child,
    )
    events_s = time.perf_counter() - started
    out = {
        "items": items.items_new,
        "items_s": round(items_s, 2),
        "items_per_s": round(items.items_new / items_s),
        "events": events.events_new,
        "events_bad": len(events.bad_rows),
        "events_s": round(events_s, 2),
        "events_per_s": round(events.events_new / events_s),
        "reader_process": child,
    }
    if not vectors:
        return out
    started = time.perf_counter()
    block = 1_000
    n = len(cat.topic)
    for start in range(0, n, block):
        stop = min(n, start + block)
        # One transaction per block, as an ingest writer stores a batch (Store.add_features).
        store.add_features(
            [
                (scale_data.item_id(k), "text", "synthetic-1", {"source": "synthetic"}, v)
                for k, v in zip(range(start, stop), scale_data.vectors(cat, start, stop), strict=True)
            ]
        )
    vectors_s = time.perf_counter() - started
    return out | {"vectors_s": round(vectors_s, 2), "vectors_per_s": round(n / vectors_s)}


def store_size(home: Path, store_url: str) -> int | None:
    if store_url and not store_url.startswith("sqlite"):
        rec = engine(home, store_url)
        try:
            return int(rec.store.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
        finally:
            rec.store.close()
    path = Path(store_url[len("sqlite:///") :]) if store_url else home / "mediarec.db"
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


TRAIN = """
import json, resource, sys, time
from mediarec.engine import MediaRec
from mediarec.rank import cf_index
from mediarec.serve.dashboard_pages import PAGE_SIZE
from mediarec.settings import load_settings
rec = MediaRec(settings=load_settings(sys.argv[1], store_url=sys.argv[2] or None))
index_s = []
save_for = cf_index.save_for
def timed(*args, **kw):
    t = time.perf_counter()
    out = save_for(*args, **kw)
    index_s.append(time.perf_counter() - t)
    return out
cf_index.save_for = timed
t = time.perf_counter()
data = rec.interactions()
load_s = time.perf_counter() - t
t = time.perf_counter()
path, model = rec.train("als")
total_s = time.perf_counter() - t
print(json.dumps({"matrix_s": round(load_s, 2), "train_total_s": round(total_s, 2),
                  "fit_s": round(model.fit_seconds, 2), "users": model.n_users, "items": model.n_items,
                  "nnz": int(model.seen.nnz), "cf_index_s": round(sum(index_s), 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def train(home: Path, store_url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", TRAIN, str(home), store_url], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def memory_now() -> dict[str, int]:
    """MB resident in this process now (all, anonymous, mapped file pages) and, for the machine,
    the memory available and the page cache (Linux ``/proc``; empty elsewhere). ``ru_maxrss`` is a
    peak: at 1 M items most of it is the first request's transient reads, not what a process keeps."""
    out: dict[str, int] = {}
    wanted = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb"}
    machine = {"MemAvailable": "machine_available_mb", "Cached": "machine_page_cache_mb"}
    for path, names in (("/proc/self/status", wanted), ("/proc/meminfo", machine)):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in names:
                out[names[key]] = int(value.split()[0]) // 1024
    return out


def peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def memory_steps(home: Path, store_url: str, user: str, wait_s: float = 1200.0) -> dict[str, Any]:
    """What one serving process holds, load by load: resident memory after each step of a first
    request (catalogue snapshot with its content index, model, model view, taste batch, trending,
    the ranking itself, the background work after it), the biggest arrays, and what the C
    allocator hands back when asked at the end (``malloc_trim``: freed memory it kept)."""
    from mediarec.rank.ranker import ModelRef

    steps: list[dict[str, Any]] = []

    def mark(name: str, began: float) -> None:
        gc.collect()
        steps.append(
            {"step": name, "s": round(time.perf_counter() - began, 1), **memory_now(), "peak_mb": peak_mb()}
        )
        print(f"memory: {json.dumps(steps[-1])}", file=sys.stderr, flush=True)

    t = time.perf_counter()
    mark("start", t)
    rec = engine(home, store_url)
    ranker = rec._ranker
    t = time.perf_counter()
    catalog = ranker.catalogs.get(rec.store)
    mark("catalogue snapshot", t)
    t = time.perf_counter()
    loaded = rec.loaded()
    assert loaded is not None, "no trained model in this home"
    mark("model", t)
    t = time.perf_counter()
    ref = ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity)
    view = ranker.view(ref, catalog)
    mark("model view", t)
    opts = rec.rank_options
    if catalog.content is not None and opts.new_item_share < 1.0:
        t = time.perf_counter()
        ranker.audience.tastes(rec.store, catalog, rec.weights)
        mark("taste batch", t)
    t = time.perf_counter()
    ranker.trending.get(rec.store, catalog, opts.trending_window_days, opts.trending_half_life_days)
    mark("trending", t)
    t = time.perf_counter()
    rec.recommend(user, n=10)
    mark("first recommend", t)
    t = time.perf_counter()
    settle(rec, wait_s)
    mark("background work done", t)
    model = loaded.model
    arrays = {
        "catalogue content": catalog.content,
        "model view vectors": view.vectors,
        "model item factors": getattr(model, "item_factors", None),
        "model user factors": getattr(model, "user_factors", None),
    }
    sizes = {k: round(v.nbytes / 2**20) for k, v in arrays.items() if isinstance(v, np.ndarray)}
    for name, m in (("model seen (CSR)", model.seen), ("model view seen (CSC)", view.seen_csc)):
        if m is not None:
            sizes[name] = round((m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20)
    t = time.perf_counter()
    trimmed = None
    try:
        import ctypes

        trimmed = bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        pass
    mark("after malloc_trim", t)
    rec.close()
    return {"steps": steps, "arrays_mb": sizes, "malloc_trim_released": trimmed}


def settle(rec: MediaRec, wait_s: float) -> float | None:
    """Seconds waited until the ranker runs no background work (None: still busy at ``wait_s``)."""
    started = time.monotonic()
    while rec._ranker.pending():
        if time.monotonic() - started > wait_s:
            return None
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


class GcPauses:
    """A ``gc.callbacks`` entry adding up the time spent in collections."""

    def __init__(self) -> None:
        self.seconds, self.full, self._began = 0.0, 0, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._began
        self.full += info.get("generation") == 2


def profile_requests(rec: MediaRec, users: list[str], path: Path) -> dict[str, Any]:
    """Each user's request under its own cProfile: the sum of all (by cumulative and own time) and
    the five slowest requests apart, as text at ``path`` (profiled times are inflated)."""
    import cProfile
    import io
    import pstats

    total: pstats.Stats | None = None
    kept: list[tuple[float, str, cProfile.Profile]] = []
    for user in users:
        rec.results.clear()  # a user timed before is ranked again, not answered from the cache
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        rec.recommend(user, n=10)
        prof.disable()
        kept = sorted([*kept, (time.perf_counter() - t, user, prof)], key=lambda x: -x[0])[:5]
        total = pstats.Stats(prof) if total is None else total.add(prof)
    text = io.StringIO()
    if total is not None:
        total.stream = text  # type: ignore[attr-defined]
        text.write(f"== {len(users)} requests, by cumulative time\n")
        total.sort_stats("cumulative").print_stats(60)
        text.write("== by own time\n")
        total.sort_stats("tottime").print_stats(40)
    for spent, user, prof in kept:
        text.write(f"== slow request: {user}, {spent * 1000:.1f} ms under the profiler\n")
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(30)
    path.write_text(text.getvalue())
    return {"path": str(path), "requests": len(users), "slowest_ms": [round(k[0] * 1000, 1) for k in kept]}


def in_process(
    home: Path,
    store_url: str,
    users: list[str],
    warm: int,
    keep: list[MediaRec] | None = None,
    wait_s: float = 1200.0,
    profile: Path | None = None,
    profile_users: list[str] | None = None,
    timed: int | None = None,
    trace: Path | None = None,
) -> dict[str, Any]:
    """``keep``: the engine is appended there, open, for a later stage, instead of closed.
    ``wait_s``: how long to wait for background work after the warm-up requests. ``profile``:
    after the timed requests, ``profile_users`` are ranked under cProfile, written there.
    ``timed``: how many users after the warm-up ones are timed (default: all). ``trace``: each timed
    request's steps, faults, context switches and the machine's CPU states, one JSON line each, are
    written there (bench/_request_trace.py) and the slowest summarised in the result."""
    rec = engine(home, store_url)
    # BLAS on one thread, as `mediarec serve` runs requests (serve/app.py): spread over both cores
    # each small product of a ranking waits for the other core whenever another process holds it.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    started = time.perf_counter()
    rec.recommend(users[0], n=10)
    first_s = time.perf_counter() - started
    for u in users[1 : 1 + warm]:
        rec.recommend(u, n=10)
    # Steady state: the timed requests start once the process's background work (first audience
    # bands, taste vectors, trending, index builds) is done; at 1 M items the first bands alone
    # take tens of seconds of the cores the requests need. What still ran during timing is reported.
    waited = settle(rec, wait_s)
    memory_before = memory_now()
    times = []
    busy: dict[str, int] = {}
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    stop = None if timed is None else 1 + warm + timed
    alive: list[list[str]] = []  # other threads alive as each timed request started
    starts: list[float] = []
    tracer = RequestTrace() if trace is not None else None
    if tracer is not None:
        tracer.install(rec)
    began = time.perf_counter()
    for u in users[1 + warm : stop]:
        for name in rec._ranker.pending():
            busy[name] = busy.get(name, 0) + 1
        alive.append(sorted({th.name for th in threading.enumerate()} - {"MainThread"}))
        t = time.perf_counter()
        starts.append(t - began)
        with tracer.request(u, threads=alive[-1]) if tracer is not None else contextlib.nullcontext():
            rec.recommend(u, n=10)
        times.append(time.perf_counter() - t)
    gc.callbacks.remove(pauses)
    traced = None
    if tracer is not None and trace is not None:
        tracer.uninstall()
        trace.write_text("".join(json.dumps(r) + "\n" for r in tracer.records))
        traced = {"path": str(trace), **tracer.summary()}
    memory_after = memory_now()
    timed_users = users[1 + warm : stop]
    # The slowest timed requests: user and how many events the store holds for them.
    slowest = [
        {
            "ms": round(times[k] * 1000, 1),
            "user": timed_users[k],
            "events": len(rec.store.user_event_rows(timed_users[k])),
            # Where in the timed run: a slow request's neighbours and threads tell a user's own cost
            # from something else running at that moment.
            "position": k,
            "started_s": round(starts[k], 2),
            "threads": alive[k],
        }
        for k in sorted(range(len(times)), key=lambda k: -times[k])[:5]
    ]
    profiled = profile_requests(rec, profile_users, profile) if profile and profile_users else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if keep is None:
        rec.close()
    else:
        keep.append(rec)
    return {
        "first_request_s": round(first_s, 2),
        "background_wait_s": waited,
        "requests_with_background_work": busy,
        "requests": len(times),
        "p50_ms": round(pct(times, 50), 1),
        "p99_ms": round(pct(times, 99), 1),
        "max_ms": round(max(times) * 1000, 1) if times else None,
        # Time in garbage collections during the timed requests, and how many were full ones.
        "gc_ms": round(pauses.seconds * 1000, 1),
        "gc_full": pauses.full,
        "slowest": slowest,
        "profile": profiled,
        "trace": traced,
        "bench_process_peak_rss_mb": round(rss),
        # Resident now (not the peak), and the machine's available memory and page cache, as the
        # timed requests began and ended.
        "memory_timed_start": memory_before,
        "memory_timed_end": memory_after,
    }


def cf_recall(
    home: Path, store_url: str, users: list[str], wait_s: float = 600.0, rec: MediaRec | None = None
) -> dict[str, Any]:
    """The CF index against the exact product, per user: recall of the CF candidates (the
    ``candidates`` best allowed items) and agreement of the whole ranked top 10, each user ranked
    both ways back to back (so the shared figures are the same for both)."""
    from mediarec.rank.candidates import cf_source
    from mediarec.rank.cf_index import IndexedCF
    from mediarec.rank.filters import allowed_mask
    from mediarec.rank.history import load_history

    rec = rec or engine(home, store_url)
    opts = rec.rank_options
    rec.rank(users[0], n=10)  # loads the catalogue, the model and its view
    ranker = rec._ranker
    (key, view), *_ = [(k, v) for k, v in ranker._views.items() if k[0].parent.name == "als"]
    deadline = time.monotonic() + wait_s
    while view.factor_index is not None and view.factor_index.get() is None and time.monotonic() < deadline:
        time.sleep(1)
    if view.factor_index is None or view.factor_index.get() is None:
        rec.close()
        return {"error": "no CF index for this model"}
    exact_view = dataclasses.replace(view, factor_index=None)
    catalog = ranker.catalogs.get(rec.store)
    recalls: list[float] = []
    overlaps: list[float] = []
    index_ms: list[float] = []
    exact_ms: list[float] = []
    same_lists = 0
    for user in users:
        history = load_history(rec.store, user, catalog, rec.weights)
        cf, _ = ranker._cf_scores(view, user, history, len(catalog))
        if isinstance(cf, IndexedCF):
            cut = opts.watched_fraction
            allowed = allowed_mask(catalog, history, exclude_seen=True, watched_fraction=cut)
            got = cf.source(allowed, opts.candidates, len(history.seen))
            want = cf_source(cf.full(len(catalog)), allowed, opts.candidates)
            if got is not None and len(want.positions):
                common = set(got.positions.tolist()) & set(want.positions.tolist())
                recalls.append(len(common) / len(want.positions))
        lists = []
        for v, spent in ((view, index_ms), (exact_view, exact_ms)):
            ranker._views[key] = v
            rec.results.clear()
            t = time.perf_counter()
            lists.append([r.item_id for r in rec.recommend(user, n=10)])
            spent.append(time.perf_counter() - t)
        ranker._views[key] = view
        same_lists += lists[0] == lists[1]
        overlaps.append(len(set(lists[0]) & set(lists[1])) / max(len(lists[1]), 1))
    rec.close()
    return {
        "users": len(users),
        "candidates": opts.candidates,
        "cf_candidate_recall_mean": round(float(np.mean(recalls)), 4),
        "cf_candidate_recall_p5": round(float(np.percentile(recalls, 5)), 4),
        "top10_identical_lists": same_lists,
        "top10_overlap_mean": round(float(np.mean(overlaps)), 4),
        "index_p50_ms": round(pct(index_ms, 50), 1),
        "exact_p50_ms": round(pct(exact_ms, 50), 1),
        "index_p99_ms": round(pct(index_ms, 99), 1),
        "exact_p99_ms": round(pct(exact_ms, 99), 1),
    }


def over_http(
    home: Path, store_url: str, users: list[str], warm: int, clients: int, pages: int
) -> dict[str, Any]:
    port = free_port()
    cmd = [MEDIAREC, "serve", "--port", str(port)]
    log = (home / "serve.log").open("ab")
    proc = subprocess.Popen(cmd, env=env_for(home, store_url), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_health(proc, f"{base}/health", timeout=600)  # a big store's snapshot takes minutes
        started = time.perf_counter()
        first = httpx.get(f"{base}/users/{users[0]}/recommendations", timeout=600)
        first.raise_for_status()
        first_s = time.perf_counter() - started
        for user in users[1 : 1 + warm]:
            httpx.get(f"{base}/users/{user}/recommendations", timeout=600).raise_for_status()
        todo = list(users[1 + warm :])
        lock = threading.Lock()
        times: list[float] = []
        errors: list[int] = []

        def client() -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                while True:
                    with lock:
                        if not todo:
                            return
                        user = todo.pop()
                    began = time.perf_counter()
                    r = http.get(f"/users/{user}/recommendations", params={"n": 10})
                    elapsed = time.perf_counter() - began
                    with lock:
                        if r.status_code == 200:
                            times.append(elapsed)
                        else:
                            errors.append(r.status_code)

        wall = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall
        page_times: dict[str, float] = {}
        with httpx.Client(base_url=base, timeout=120) as http:
            for name, query in (("first", {}), ("deep", {"page": pages // 2}), ("tag", {"tag": "topic3"})):
                samples = []
                for _ in range(5):
                    began = time.perf_counter()
                    http.get("/", params=query).raise_for_status()
                    samples.append(time.perf_counter() - began)
                page_times[f"catalogue_{name}_ms"] = round(statistics.median(samples) * 1000, 1)
        return {
            "first_request_s": round(first_s, 2),
            "clients": clients,
            "requests": len(times),
            "errors": len(errors),
            "p50_ms": round(pct(times, 50), 1),
            "p99_ms": round(pct(times, 99), 1),
            "throughput_rps": round(len(times) / wall, 1),
            **page_times,
        }
    finally:
        stop(proc)
        log.close()


def delete_user(home: Path, store_url: str, user: str) -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run(
        [MEDIAREC, "delete-user", user], env=env_for(home, store_url), check=True, capture_output=True
    )
    return {"delete_user_s": round(time.perf_counter() - started, 2)}


def step(out: dict[str, Any], name: str, value: Any) -> None:
    """Record one measurement and show it at once (a long run cut short still shows what it did)."""
    out[name] = value
    print(f"{name}: {json.dumps(value)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--store-url", default="", help="default: SQLite in the bench home")
    parser.add_argument("--home", type=Path, default=None, help="bench home (default: a temporary folder)")
    parser.add_argument("--requests", type=int, default=300, help="timed recommend requests per mode")
    parser.add_argument("--warm", type=int, default=20, help="untimed requests after the first")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--recall-users", type=int, default=200, help="users of the cf-recall stage")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep a temporary home")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--stages",
        default="import,train,recommend,http,delete",
        help="comma-separated subset, to run a big size in parts on a kept --home / --store-url "
        "(the generator is seeded, so every part sees the same data); add no-vectors to import "
        "items and events only; cf-recall compares the CF index with the exact product; memory "
        "measures what a serving process holds after each load step",
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=None,
        help="event batches in flight on PostgreSQL (default: the loader's)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="recommend stage: after the timed requests, rank --profile-requests other users under "
        "cProfile and write the report here",
    )
    parser.add_argument("--profile-requests", type=int, default=300)
    parser.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="recommend stage: write each timed request's step times, page faults, context switches "
        "and the machine's CPU states here (JSON lines; bench/_request_trace.py)",
    )
    parser.add_argument(
        "--profile-users",
        default="",
        help="comma-separated users to profile instead of drawn ones (say, a previous run's slowest)",
    )
    args = parser.parse_args(argv)
    if args.writers is not None:
        import mediarec.datasets.loader as loader

        loader.WRITERS_POSTGRESQL = args.writers
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    home = args.home or Path(tempfile.mkdtemp(prefix="mediarec-scale-"))
    home.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "sizes": {"items": args.items, "events": args.events, "users": args.users},
        "store": args.store_url or "sqlite (bench home)",
        "writers": args.writers,
        "uptime_before": uptime(),
    }
    try:
        started = time.perf_counter()
        if "import" in stages:
            cat = scale_data.catalogue(args.items)
            ev = scale_data.event_arrays(cat, args.users, args.events)
            active = np.unique(ev["user"])
        else:  # the users only (the same draws): the other stages read the events from the store
            active = scale_data.active_users(args.users, args.events)
        out["generate_s"] = round(time.perf_counter() - started, 2)
        if "import" in stages:
            rec = engine(home, args.store_url)
            step(out, "import", import_all(rec, cat, ev, vectors="no-vectors" not in stages))
            rec.close()
            # The generated rows are not needed past this point: at 21 M events they are ~1 GB that
            # a serving stage's process (several GB at 1 M items, on a 23 GB machine) can use.
            del cat, ev
            gc.collect()
            step(out, "store_bytes", store_size(home, args.store_url))
        if "train" in stages:
            step(out, "train_als", train(home, args.store_url))
        rng = np.random.default_rng(3)
        picked = rng.choice(active, min(len(active), args.requests + args.warm + 1), replace=False)
        users = [scale_data.user_id(int(u)) for u in picked]
        kept: list[MediaRec] = []
        if "memory" in stages:
            step(out, "memory", memory_steps(home, args.store_url, users[0]))
            gc.collect()
        if "recommend" in stages:
            keep = kept if "cf-recall" in stages else None
            profiled: list[str] = []
            if args.profile and args.profile_users:
                profiled = [u.strip() for u in args.profile_users.split(",") if u.strip()]
            elif args.profile:  # other users than the timed ones, drawn apart (the timed ones stay the same)
                others = np.setdiff1d(active, picked)
                drawn = np.random.default_rng(4).choice(
                    others, min(len(others), args.profile_requests), replace=False
                )
                profiled = [scale_data.user_id(int(u)) for u in drawn]
            step(
                out,
                "recommend_in_process",
                in_process(
                    home,
                    args.store_url,
                    users,
                    args.warm,
                    keep,
                    profile=args.profile,
                    profile_users=profiled,
                    trace=args.trace,
                ),
            )
        if "cf-recall" in stages:
            found = cf_recall(home, args.store_url, users[: args.recall_users], rec=kept[0] if kept else None)
            step(out, "cf_recall", found)
            # Dropped, not only closed: its snapshot (~11 GB at 1M items) beside the HTTP stage's
            # server ran this machine out of memory.
            kept.clear()
            gc.collect()
        if "http" in stages and not args.skip_http:
            pages = max(1, -(-args.items // PAGE_SIZE))
            step(
                out, "recommend_http", over_http(home, args.store_url, users, args.warm, args.clients, pages)
            )
        if "delete" in stages:
            step(out, "delete_user", delete_user(home, args.store_url, users[-1]))
        out["uptime_after"] = uptime()
    finally:
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()

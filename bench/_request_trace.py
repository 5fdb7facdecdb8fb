"""Where one in-process ``recommend`` spends its time: a bench-only breakdown per request.

bench_scale.py's p99 at 1 M items was set by a few requests several times the median, and a profile
of other requests cannot say what happened to those. :class:`RequestTrace` wraps the steps of a
ranking (store reads, the two index searches, audience check, blend, MMR, reasons, ...) in timers
for the benchmark's process only, and records per request, beside each step's own wall and CPU time
(exclusive of the traced steps inside it):

- the request thread's CPU time against its wall time (the rest is waiting: SQL, the disk,
  the GIL, or the core taken by another process);
- the process's minor/major page faults and the thread's voluntary/involuntary context switches
  (``getrusage``): a mapped index page read from disk is a major fault; preemption is involuntary;
- garbage collections inside the request (``gc.callbacks``);
- the machine's CPU time by state over the request (``/proc/stat``: user, system, idle, iowait,
  steal) and its runnable tasks, and pages read from disk (``/proc/vmstat``).

The wrappers cost a few microseconds per step (about 20 steps a request). Nothing of the product is
changed: the wrappers sit on instance attributes and module names of this process.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _proc_stat() -> tuple[list[int], int]:
    """(machine CPU jiffies by state, runnable tasks now)."""
    cpu: list[int] = []
    running = 0
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"cpu "):
                cpu = [int(x) for x in line.split()[1:9]]
            elif line.startswith(b"procs_running"):
                running = int(line.split()[1])
    return cpu, running


def _vmstat(keys: tuple[bytes, ...] = (b"pgpgin", b"pgmajfault")) -> list[int]:
    found = dict.fromkeys(keys, 0)
    with open("/proc/vmstat", "rb") as f:
        for line in f:
            name, _, value = line.partition(b" ")
            if name in found:
                found[name] = int(value)
    return [found[k] for k in keys]


class RequestTrace:
    """Install on an engine, then wrap each timed request in :meth:`request`."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._stack: list[list[float]] = []  # per open step: [wall start, cpu start, child wall, child cpu]
        self._steps: dict[str, list[float]] | None = None  # name -> [wall, cpu, calls] of this request
        self._undo: list[Callable[[], None]] = []
        self._gc_began = 0.0
        self._gc: list[float] = [0.0, 0]  # seconds, collections within the current request

    # -- installing ---------------------------------------------------------------------------
    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kw: Any) -> Any:
            if self._steps is None:
                return fn(*args, **kw)
            self._stack.append([time.perf_counter(), time.thread_time(), 0.0, 0.0])
            try:
                return fn(*args, **kw)
            finally:
                w0, c0, cw, cc = self._stack.pop()
                wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
                got = self._steps.setdefault(name, [0.0, 0.0, 0])
                got[0] += wall - cw
                got[1] += cpu - cc
                got[2] += 1
                if self._stack:  # the enclosing step's own time excludes this one
                    self._stack[-1][2] += wall
                    self._stack[-1][3] += cpu

        return timed

    def _patch(self, owner: Any, attr: str, name: str) -> None:
        had = attr in vars(owner) if not isinstance(owner, type) else None
        original = getattr(owner, attr)
        raw = vars(owner).get(attr) if isinstance(owner, type) else None
        if isinstance(raw, staticmethod):
            setattr(owner, attr, staticmethod(self._wrap(name, raw.__func__)))
        else:
            setattr(owner, attr, self._wrap(name, original))

        def undo() -> None:
            if isinstance(owner, type):
                setattr(owner, attr, raw)
            elif had:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)

        self._undo.append(undo)

    def install(self, rec: Any) -> None:
        """Wrap the steps of ``rec``'s rankings (an open :class:`~mediarec.engine.MediaRec`)."""
        import mediarec.rank.ranker as ranker_mod
        from mediarec.rank.cf_index import FactorIndex
        from mediarec.rank.neighbours import VectorIndex

        store, ranker = rec.store, rec._ranker
        for attr, name in (
            ("serving_stamps", "sql_stamps"),
            ("user_event_rows", "sql_events"),
            ("newest_event_id", "sql_newest"),
        ):
            self._patch(store, attr, name)
        from mediarec.store.profiles import ProfileStore

        self._patch(ProfileStore, "edits", "sql_profile")  # store.profiles is made on each use
        self._patch(ranker.catalogs, "get", "catalogue")
        self._patch(ranker.trending, "get", "trending")
        self._patch(ranker.audience, "tastes", "tastes")
        self._patch(ranker.bands, "get", "bands")
        for attr, name in (
            ("_cf_scores", "cf_vector"),
            ("_audience", "audience"),
            ("_sources", "sources"),
            ("_diversity_vectors", "mmr_vectors"),
            ("_explore", "explore"),
            ("_cf_anchors", "cf_anchors"),
            ("_coviewers", "coviewers"),
            ("view", "view"),
            ("rank", "rank"),
        ):
            self._patch(ranker, attr, name)
        for attr, name in (
            ("load_history", "history"),
            ("allowed_mask", "filters"),
            ("blend", "blend"),
            ("mmr", "mmr"),
            ("explain", "explain"),
            ("user_interests", "interests"),
            ("content_source", "content"),
            ("trending_source", "trending_src"),
            ("fresh_source", "fresh_src"),
            ("freshness_bonus", "freshness"),
        ):
            self._patch(ranker_mod, attr, name)
        self._patch(VectorIndex, "search", "content_search")
        self._patch(FactorIndex, "search", "cf_search")
        self._patch(rec.results, "compute", "cache")
        self._patch(rec, "loaded", "model")
        gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        elif self._steps is not None:
            self._gc[0] += time.perf_counter() - self._gc_began
            self._gc[1] += 1

    # -- one request --------------------------------------------------------------------------
    @contextlib.contextmanager
    def request(self, user: str, **extra: Any) -> Iterator[None]:
        cpu0, run0 = _proc_stat()
        vm0 = _vmstat()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        th0 = resource.getrusage(resource.RUSAGE_THREAD)
        self._steps, self._gc = {}, [0.0, 0]
        at = time.time()
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
            steps, self._steps = self._steps, None
            th1 = resource.getrusage(resource.RUSAGE_THREAD)
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            vm1 = _vmstat()
            cpu1, run1 = _proc_stat()
            traced = sum(v[0] for v in steps.values())
            self.records.append(
                {
                    "user": user,
                    "at": round(at, 3),
                    "ms": round(wall * 1000, 2),
                    "cpu_ms": round(cpu * 1000, 2),
                    "steps": {
                        k: [round(v[0] * 1000, 2), round(v[1] * 1000, 2), int(v[2])] for k, v in steps.items()
                    },
                    "untraced_ms": round((wall - traced) * 1000, 2),
                    "minflt": ru1.ru_minflt - ru0.ru_minflt,
                    "majflt": ru1.ru_majflt - ru0.ru_majflt,
                    "vcsw": th1.ru_nvcsw - th0.ru_nvcsw,
                    "ivcsw": th1.ru_nivcsw - th0.ru_nivcsw,
                    "gc_ms": round(self._gc[0] * 1000, 2),
                    "gc_n": int(self._gc[1]),
                    # Machine, jiffies (1/100 s summed over both cores) by state during the request.
                    "machine": {k: b - a for k, a, b in zip(_CPU_FIELDS, cpu0, cpu1, strict=True) if b != a},
                    "runnable": [run0, run1],
                    "pgpgin_kb": vm1[0] - vm0[0],
                    "machine_majflt": vm1[1] - vm0[1],
                    **extra,
                }
            )

    # -- summary ------------------------------------------------------------------------------
    def summary(self, slowest: int = 15) -> dict[str, Any]:
        """Each step's p50/p99/max own wall time over the requests, and the slowest requests whole."""
        recs = self.records
        if not recs:
            return {}
        names = sorted({k for r in recs for k in r["steps"]})
        steps = {}
        for name in [*names, "untraced"]:
            vals = np.asarray(
                [r["untraced_ms"] if name == "untraced" else r["steps"].get(name, [0.0])[0] for r in recs]
            )
            steps[name] = {
                "p50": round(float(np.percentile(vals, 50)), 2),
                "p99": round(float(np.percentile(vals, 99)), 2),
                "max": round(float(vals.max()), 2),
            }
        waits = np.asarray([r["ms"] - r["cpu_ms"] for r in recs])
        order = sorted(range(len(recs)), key=lambda k: -recs[k]["ms"])
        return {
            "requests": len(recs),
            "steps_ms": steps,
            "off_cpu_ms": {
                "p50": round(float(np.percentile(waits, 50)), 2),
                "p99": round(float(np.percentile(waits, 99)), 2),
            },
            "majflt_total": int(sum(r["majflt"] for r in recs)),
            "ivcsw_total": int(sum(r["ivcsw"] for r in recs)),
            "gc_ms_total": round(sum(r["gc_ms"] for r in recs), 1),
            "slowest": [{"position": k, **recs[k]} for k in order[:slowest]],
        }

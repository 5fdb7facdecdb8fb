"""Read-only queries only the dashboard needs, kept beside it so the store's API stays small.

Each one is bounded by the page it serves: a list of ids from one catalogue page, a LIMIT, or an
indexed lookup, so that page times do not grow with the catalogue.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediarec.store import Store


@dataclass(frozen=True)
class ImportRun:
    id: int
    source: str
    format: str
    started: float
    finished: float | None
    status: str
    counts: dict[str, Any]
    errors: int
    # Only for a run still going: items whose stages have stored results since it started, and
    # media files registered since then (found or new), the closest to "done of total" the store has.
    progress: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


def feature_values(store: Store, external_ids: Sequence[str], extractor: str, path: str) -> dict[str, Any]:
    """external id -> one JSON value (``path``, e.g. ``$.tags``) of each item's newest ``extractor``
    payload. SQLite extracts the value, so a long payload (a film's shots) is never parsed here.
    CROSS JOIN pins the plan to "these items, then their features": left to itself, SQLite walks
    every feature of the extractor (100,000 rows at 100,000 items) to find the page's 48."""
    ids = list(dict.fromkeys(external_ids))
    out: dict[str, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        join = store.dialect.cross_join()
        rows = store.conn.execute(
            f"""SELECT i.external_id, json_extract(f.payload, ?), json_type(f.payload, ?)
                FROM items i {join} item_features f ON f.item_id = i.id AND f.extractor = ?
                WHERE i.external_id IN ({marks})
                ORDER BY f.created, f.id""",
            [path, path, extractor, *chunk],
        )
        for ext, value, kind in rows:  # ascending, so the newest row is the one left standing
            if kind is None:
                out.pop(ext, None)
            else:
                out[ext] = json.loads(value) if kind in ("array", "object") else value
    return out


_CACHE: dict[tuple[str, str], tuple[float, Any]] = {}
_REFRESHING: set[tuple[str, str]] = set()
_CACHE_LOCK = threading.Lock()
# One long-lived thread does every refresh, so it opens one SQLite connection per store, not one a time.
_REFRESHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-cache")
CACHE_SECONDS = 30.0


def cached(store: Store, name: str, compute: Callable[[], Any], ttl: float = CACHE_SECONDS) -> Any:
    """``compute()`` for lists that scan a whole table (the catalogue's tag and creator suggestions).

    Stale-while-revalidate: once a value exists, requests never wait for it again; one older than
    ``ttl`` is still returned while a background thread recomputes it. So suggestions may trail the
    store by about ``ttl`` seconds, and only the very first request of a server pays the scan.
    """
    key = (str(store.path), name)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        stale = hit is None or time.monotonic() - hit[0] >= ttl
        refresh = hit is not None and stale and key not in _REFRESHING
        if refresh:
            _REFRESHING.add(key)
    if hit is None:
        value = compute()
        with _CACHE_LOCK:
            _CACHE[key] = (time.monotonic(), value)
        return value
    if refresh:

        def run() -> None:
            try:
                value = compute()
                with _CACHE_LOCK:
                    _CACHE[key] = (time.monotonic(), value)
            finally:
                with _CACHE_LOCK:
                    _REFRESHING.discard(key)

        _REFRESHER.submit(run)
    return hit[1]


def tag_counts(store: Store, limit: int = 40) -> list[tuple[str, int]]:
    """The most used tags with their item counts, for the catalogue's tag filter."""
    rows = store.conn.execute(
        """SELECT tag, count(DISTINCT item_id) AS n FROM item_tags GROUP BY tag
           ORDER BY n DESC, tag LIMIT ?""",
        (limit,),
    )
    return [(str(t), int(n)) for t, n in rows]


def creators(store: Store, limit: int = 200) -> list[str]:
    """Creators with the most items (the creator index answers this without reading items)."""
    rows = store.conn.execute(
        """SELECT creator FROM items WHERE creator IS NOT NULL AND creator != ''
           GROUP BY creator ORDER BY count(*) DESC, creator LIMIT ?""",
        (limit,),
    )
    return [str(r[0]) for r in rows]


def import_runs(store: Store, limit: int = 20, fmt: str | None = None) -> list[ImportRun]:
    """The newest import and ingest runs with their error counts; running ones with progress."""
    where, params = ("WHERE r.format = ?", [fmt]) if fmt else ("", [])
    rows = store.conn.execute(
        f"""SELECT r.id, r.source, r.format, r.started, r.finished, r.status, r.counts,
                   (SELECT count(*) FROM import_errors e WHERE e.run_id = r.id)
            FROM import_runs r {where} ORDER BY r.id DESC LIMIT ?""",
        [*params, limit],
    ).fetchall()
    out = []
    for rid, source, format_, started, finished, status, counts, errors in rows:
        progress = _progress(store, started) if status == "running" and format_ == "ingest" else {}
        out.append(
            ImportRun(
                rid, source, format_, started, finished, status, json.loads(counts or "{}"), errors, progress
            )
        )
    return out


def _progress(store: Store, since: float) -> dict[str, int]:
    stored = store.conn.execute(
        """SELECT count(DISTINCT item_id) FROM item_features WHERE created >= ? AND extractor != 'probe'""",
        (since,),
    ).fetchone()[0]
    registered = store.conn.execute(
        "SELECT count(*) FROM items WHERE content_hash IS NOT NULL AND updated >= ?", (since,)
    ).fetchone()[0]
    return {"items_with_results": int(stored), "files_registered": int(registered)}


def import_errors(store: Store, run_id: int, limit: int = 200) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT file, line, reason FROM import_errors WHERE run_id = ? ORDER BY id LIMIT ?", (run_id, limit)
    )
    return [{"file": f, "line": line, "reason": reason} for f, line, reason in rows]


def fused_vectors(store: Store, max_items: int) -> dict[str, np.ndarray] | None:
    """Each item's newest ``fused`` vector, or None when more than ``max_items`` items have one."""
    n = store.conn.execute(
        "SELECT count(DISTINCT item_id) FROM item_features WHERE extractor = 'fused' AND vector IS NOT NULL"
    ).fetchone()[0]
    if n > max_items:
        return None
    rows = store.conn.execute(
        """SELECT i.external_id, f.vector FROM item_features f JOIN items i ON i.id = f.item_id
           WHERE f.extractor = 'fused' AND f.vector IS NOT NULL ORDER BY f.created, f.id"""
    )
    return {ext: np.frombuffer(blob, dtype=np.float32) for ext, blob in rows}


def recent_users(store: Store, limit: int = 60) -> list[str]:
    """The users added last (the primary key orders them), for the users page's list."""
    rows = store.conn.execute("SELECT external_id FROM users ORDER BY id DESC LIMIT ?", (limit,))
    return [str(r[0]) for r in rows]

"""A request-time snapshot of the catalogue: attributes, topics, LLM tags and content vectors.

Loaded in a few batch queries and kept until the store's catalogue stamp changes (an item or a
feature added or updated), so a request never scans the items table, and an item ingested a
moment ago is rankable as soon as its features are stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.rank.neighbours import BUILD_LOCK, VectorIndex

if TYPE_CHECKING:
    from mediarec.store import Store

# Same preference as the content models' loader: fused (text + vision + audio), then text alone.
# One extractor for the whole catalogue, since the two live in different spaces.
CONTENT_EXTRACTORS = ("fused", "text")
LLM_EXTRACTOR = "llm"


@dataclass(frozen=True)
class ItemTag:
    """A descriptive tag of an item and where it is grounded (the LLM's cited evidence)."""

    tag: str
    source: str  # "llm" | "metadata"
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Parallel arrays over every stored item, indexed by catalogue position."""

    internal_ids: np.ndarray  # int64: the store's row id
    item_ids: np.ndarray  # str: external ids
    titles: list[str]
    kinds: list[str]
    creators: list[str | None]
    created: np.ndarray  # float64, seconds since the epoch
    topics: list[tuple[str, ...]]  # LLM topics, else metadata genres / topic
    tags: list[tuple[ItemTag, ...]]
    moments: list[tuple[dict[str, Any], ...]]
    content: np.ndarray | None  # float32 unit rows (zeros where an item has no vector)
    has_content: np.ndarray  # bool
    content_source: str
    index: dict[str, int] = field(default_factory=dict)
    by_internal: dict[int, int] = field(default_factory=dict)
    tag_idf: dict[str, float] = field(default_factory=dict)  # log(items / items with the tag)
    tag_names: list[str] = field(default_factory=list)  # tag id -> name
    tag_rarity: np.ndarray = field(default_factory=lambda: np.zeros(0))  # tag id -> idf
    tag_indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    tag_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # CSR: item -> tag ids
    # The earlier of the item's ``created`` stamp and its first event: an item imported today with
    # viewers from last year is not new (what the fresh source, the boost, exploration and the
    # new-item audience count from); empty: ``created`` alone.
    first_seen: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def since(self) -> np.ndarray:
        """When each item appeared: :attr:`first_seen` when known, else ``created``."""
        return self.first_seen if len(self.first_seen) == len(self.created) else self.created

    # Per-snapshot orders and groupings, computed on first use so that requests filter and pick
    # fresh items without a pass over the whole catalogue (cached_property writes the instance
    # dict directly, which a frozen dataclass allows; a race computes the same value twice).
    @cached_property
    def by_time(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions sorted by :attr:`since` ascending, those times): the fresh window is a suffix."""
        order = np.argsort(self.since, kind="stable")
        return order, self.since[order]

    def fresh_window(self, cutoff: float) -> np.ndarray:
        """Positions whose :attr:`since` is at least ``cutoff``, in position order. Kept until an
        item leaves the window: a freshly imported big catalogue has hundreds of thousands of items
        without a viewer, all new, and sorting them took ~4 ms per use, several uses per request."""
        order, times = self.by_time
        start = int(np.searchsorted(times, cutoff, side="left"))
        kept = self.__dict__.get("_fresh_window")
        if kept is not None and kept[0] == start:
            return kept[1]
        window = np.sort(order[start:])
        self.__dict__["_fresh_window"] = (start, window)  # a race sorts the same window twice
        return window

    @cached_property
    def content_index(self) -> VectorIndex | None:
        """Neighbours over :attr:`content` (exact when small, HNSW when big), built on first use, or
        before the swap when a big catalogue reloads in the background."""
        with BUILD_LOCK:
            built = self.__dict__.get("content_index")  # a concurrent first use may have built it
            if built is None and self.content is not None:
                built = VectorIndex(self.content, self.has_content)
            return built

    @cached_property
    def kind_positions(self) -> dict[str, np.ndarray]:
        return _group(self.kinds)

    @cached_property
    def creator_positions(self) -> dict[str | None, np.ndarray]:
        return _group(self.creators)

    def positions_of(self, internal: np.ndarray) -> np.ndarray:
        """Catalogue positions of internal item ids (-1 for ids this snapshot lacks), vectorised."""
        ids = np.asarray(internal, dtype=np.int64)
        if not len(self.internal_ids) or not len(ids):
            return np.full(len(ids), -1, dtype=np.int64)
        # Rows come ORDER BY id, so the internal ids are sorted and a binary search maps them.
        at = np.clip(np.searchsorted(self.internal_ids, ids), 0, len(self.internal_ids) - 1)
        return np.where(self.internal_ids[at] == ids, at, -1).astype(np.int64)


def _group(values: list[Any]) -> dict[Any, np.ndarray]:
    """value -> sorted positions holding it."""
    out: dict[Any, list[int]] = {}
    for k, v in enumerate(values):
        out.setdefault(v, []).append(k)
    return {v: np.asarray(p, dtype=np.int64) for v, p in out.items()}


def _norm_tag(raw: Any) -> str:
    return str(raw).strip().lower()


def _metadata_tags(meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(topics, tags) from free-form metadata: ``genres``/``topic``/``topics`` and ``tags``."""
    topics: list[str] = []
    for key in ("topics", "genres", "topic"):
        value = meta.get(key)
        if isinstance(value, str) and value:
            topics.append(_norm_tag(value))
        elif isinstance(value, list):
            topics.extend(_norm_tag(v) for v in value if v)
    tags = [_norm_tag(t) for t in meta.get("tags", []) if t] if isinstance(meta.get("tags"), list) else []
    return topics, list(dict.fromkeys(tags + topics))


_WORD = re.compile(r"[a-z0-9]+")


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) > 1}


def supported(tag: str, evidence: tuple[dict[str, Any], ...]) -> bool:
    """Every word of the tag is in the text of the evidence it cites (stemmed to five letters).

    Reasons quote an LLM tag as a fact about the item ("matches your interest in 'programming'"),
    so a tag whose cited pieces do not contain it (a topic the model picked from a list, evidence
    cited by id only) is left out of interests and reasons: true, or silent.
    """
    words = _stems(tag)
    text = " ".join(str(e.get("text", "")) for e in evidence)
    return bool(words) and words <= _stems(text)


def _llm_tags(payload: dict[str, Any]) -> tuple[list[str], list[ItemTag], list[dict[str, Any]]]:
    topics = [_norm_tag(t) for t in payload.get("topics", []) if isinstance(t, str) and t]
    tags: list[ItemTag] = []
    for entry in payload.get("tags", []):
        if not isinstance(entry, dict) or not entry.get("tag"):
            continue
        evidence = []
        for ev in entry.get("evidence", []):
            # Older payloads cite evidence by id only; newer ones carry the piece itself.
            evidence.append(dict(ev) if isinstance(ev, dict) else {"id": str(ev)})
        tag = _norm_tag(entry["tag"])
        if supported(tag, tuple(evidence)):
            tags.append(ItemTag(tag, LLM_EXTRACTOR, tuple(evidence)))
    moments = [dict(m) for m in payload.get("moments", []) if isinstance(m, dict) and "start" in m]
    return topics, tags, moments


class _Shared:
    """One object per distinct value: a big catalogue repeats a few thousand tags, kinds and
    creators over a million items, and the driver hands out a new string (and the loop a new
    ItemTag) for each occurrence; at 1 M synthetic items the metadata tags alone held ~700 MB as
    separate objects. The values are immutable, so sharing them changes nothing else."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        return self._seen.setdefault(value, value)

    def tag(self, name: str) -> ItemTag:
        found = self._seen.get(("metadata-tag", name))
        if found is None:
            found = self._seen[("metadata-tag", name)] = ItemTag(self(name), "metadata")
        return found


def load_catalog(store: Store) -> Catalog:
    rows = store.item_rows()
    n = len(rows)
    internal = np.asarray([r[0] for r in rows], dtype=np.int64)
    by_internal = {int(i): k for k, i in enumerate(internal)}
    shared = _Shared()
    topics: list[tuple[str, ...]] = []
    tags: list[tuple[ItemTag, ...]] = []
    for r in rows:
        try:
            meta = json.loads(r[6]) if r[6] else {}
        except ValueError:
            meta = {}
        t, g = _metadata_tags(meta if isinstance(meta, dict) else {})
        topics.append(shared(tuple(shared(x) for x in dict.fromkeys(t))))
        tags.append(tuple(shared.tag(x) for x in g))
    moments: list[tuple[dict[str, Any], ...]] = [() for _ in range(n)]
    vectors: dict[str, dict[int, np.ndarray]] = {e: {} for e in CONTENT_EXTRACTORS}
    for item_id, extractor, payload, vector in store.latest_features((*CONTENT_EXTRACTORS, LLM_EXTRACTOR)):
        pos = by_internal.get(item_id)
        if pos is None:
            continue
        if extractor == LLM_EXTRACTOR:
            t, llm_tags, m = _llm_tags(payload)
            if t:
                topics[pos] = tuple(dict.fromkeys(t))
            # LLM tags come first: they carry evidence; metadata tags not repeated by the LLM follow.
            names = {x.tag for x in llm_tags}
            tags[pos] = (*llm_tags, *(x for x in tags[pos] if x.tag not in names))
            moments[pos] = tuple(m)
        elif vector is not None:
            vectors[extractor][pos] = vector
    content, has, source = None, np.zeros(n, dtype=bool), ""
    for extractor in CONTENT_EXTRACTORS:
        found = vectors[extractor]
        if not found:
            continue
        # A newer model version may have changed the width: keep the most common layout only.
        dims = [v.shape[0] for v in found.values()]
        dim = max(set(dims), key=dims.count)
        content = np.zeros((n, dim), dtype=np.float32)
        for pos, v in found.items():
            if v.shape[0] == dim:
                content[pos] = v
                has[pos] = True
        norms = np.linalg.norm(content, axis=1)
        has &= norms > 0
        content[has] /= norms[has, None]
        source = extractor
        break
    df: dict[str, int] = {}
    for item_tags in tags:
        for name in {t.tag for t in item_tags}:
            df[name] = df.get(name, 0) + 1
    tag_names = sorted(df)
    tag_id = {t: k for k, t in enumerate(tag_names)}
    per_item = [sorted({tag_id[t.tag] for t in item_tags}) for item_tags in tags]
    tag_indptr = np.zeros(n + 1, dtype=np.int64)
    tag_indptr[1:] = np.cumsum([len(x) for x in per_item])
    created = np.asarray([r[5] for r in rows], dtype=np.float64)
    first_seen = created.copy()
    # One grouped pass over the item index of interactions, once per catalogue snapshot.
    for item_id, first in store.conn.execute("SELECT item_id, min(ts) FROM interactions GROUP BY item_id"):
        pos = by_internal.get(int(item_id))
        if pos is not None and first is not None:
            first_seen[pos] = min(first_seen[pos], float(first))
    return Catalog(
        first_seen=first_seen,
        tag_idf={t: math.log(max(n, 1) / c) for t, c in df.items()},
        tag_names=tag_names,
        tag_rarity=np.asarray([math.log(max(n, 1) / df[t]) for t in tag_names], dtype=np.float64),
        tag_indptr=tag_indptr,
        tag_index=np.asarray([t for x in per_item for t in x], dtype=np.int64),
        internal_ids=internal,
        item_ids=np.asarray([r[1] for r in rows], dtype=str),
        titles=[str(r[2] or r[1]) for r in rows],
        kinds=[shared(str(r[3])) for r in rows],
        creators=[shared(r[4]) for r in rows],
        created=created,
        topics=topics,
        tags=tags,
        moments=moments,
        content=content,
        has_content=has,
        content_source=source,
        index={str(r[1]): k for k, r in enumerate(rows)},
        by_internal=by_internal,
    )


_LIBC: list[Any] = []  # the C library, once looked up ([None] where it has no malloc_trim)


def release_freed_memory() -> bool:
    """Hand the C allocator's freed memory back to the system (glibc ``malloc_trim``); False where
    there is no such call. Loading a big snapshot reads every item and vector through the driver:
    gigabytes of rows and copies, freed once the snapshot is built, which glibc keeps in its heap
    for reuse. Measured on the 1 M-item proxy (docs/benchmarks.md): 5.7 GB anonymous memory after
    the first request, 3.3 GB after one trim (0.3 s): 2.4 GB the page cache (the database's pages,
    the mapped index files) could not use. Allocations of other threads wait during the trim, so it
    runs only after such a load, not on the request path."""
    if not _LIBC:
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            _LIBC.append(libc if hasattr(libc, "malloc_trim") else None)
        except OSError:
            _LIBC.append(None)
    if _LIBC[0] is None:
        return False
    _LIBC[0].malloc_trim(0)
    return True


# The stamp query scans the items table, so requests share one check per this many seconds: a new
# item or feature is visible at most this long after it is stored.
STAMP_CHECK_SECONDS = 0.25
# Loading a snapshot reads every item and vector (seconds at 100,000 items, minutes at a million).
# Above this many items a changed catalogue is reloaded on a background thread while requests keep
# the previous snapshot, so a new item becomes rankable when the reload ends rather than at once.
BACKGROUND_RELOAD_ITEMS = 100_000
# Such a catalogue's stamp is also read off the request path, this often: its count(*) scans a
# million-row index (62 ms on PostgreSQL at 1 M items), which every fourth request paid before,
# and a change there is rankable only after a minutes-long reload anyway.
BACKGROUND_CHECK_SECONDS = 5.0


class CatalogCache:
    """The newest snapshot, reloaded when the store's catalogue stamp moves."""

    def __init__(self, check_seconds: float = STAMP_CHECK_SECONDS, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir  # where a big catalogue's content index is kept between processes
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._catalog: Catalog | None = None
        self._checked = 0.0
        self.check_seconds = check_seconds
        self._reloading = False
        self._checking = False

    def _load(self, store: Store, stamp: tuple[Any, ...]) -> Catalog:
        catalog = load_catalog(store)
        if self.cache_dir is not None and catalog.content is not None:
            # A big catalogue's index is saved per snapshot (named by its stamp): the next process
            # serving this snapshot maps it instead of building it for minutes.
            digest = hashlib.sha1(repr((stamp, catalog.content_source)).encode()).hexdigest()[:16]
            path = self.cache_dir / f"content-{digest}.usearch"
            with BUILD_LOCK:
                index = VectorIndex.saved(catalog.content, catalog.has_content, path)
                catalog.__dict__["content_index"] = index
        if len(catalog) > BACKGROUND_RELOAD_ITEMS:
            release_freed_memory()  # the rows read for it (a small one's are not worth the pause)
        return catalog

    def _reload(self, store: Store, stamp: tuple[Any, ...]) -> None:
        try:
            catalog = self._load(store, stamp)
            catalog.content_index  # noqa: B018 - built here, off the request path, before the swap
            with self._lock:
                self._catalog, self._stamp = catalog, stamp
        finally:
            with self._lock:
                self._reloading = False

    def _check(self, store: Store) -> None:
        try:
            stamp = store.catalogue_stamp()
        except Exception:  # a failed check is retried at the next interval
            stamp = None
        with self._lock:
            self._checking = False
            if stamp is None or stamp == self._stamp or self._reloading:
                return
            self._reloading = True
        self._reload(store, stamp)

    def peek(self) -> Catalog | None:
        """What :meth:`get` returns now when it would neither read the stamp nor start a check, else
        None; never waits (a small catalogue loads under the lock)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            catalog, age = self._catalog, time.monotonic() - self._checked
            if catalog is None:
                return None
            if age < self.check_seconds:
                return catalog
            big = len(catalog) > BACKGROUND_RELOAD_ITEMS
            return catalog if big and (self._checking or age < BACKGROUND_CHECK_SECONDS) else None
        finally:
            self._lock.release()

    def get(self, store: Store) -> Catalog:
        with self._lock:
            if self._catalog is not None and time.monotonic() - self._checked < self.check_seconds:
                return self._catalog
            if self._catalog is not None and len(self._catalog) > BACKGROUND_RELOAD_ITEMS:
                # Big: the request keeps the snapshot; the stamp is read (and a changed catalogue
                # reloaded) on a background thread.
                if not self._checking and time.monotonic() - self._checked >= BACKGROUND_CHECK_SECONDS:
                    self._checking, self._checked = True, time.monotonic()
                    name = "mediarec-catalogue-check"
                    threading.Thread(target=self._check, args=(store,), name=name, daemon=True).start()
                return self._catalog
        stamp = store.catalogue_stamp()
        with self._lock:
            big = self._catalog is not None and len(self._catalog) > BACKGROUND_RELOAD_ITEMS
            if self._catalog is not None and stamp != self._stamp and big:
                if not self._reloading:
                    self._reloading = True
                    threading.Thread(
                        target=self._reload, args=(store, stamp), name="mediarec-catalogue", daemon=True
                    ).start()
                self._checked = time.monotonic()
                return self._catalog
            if self._catalog is None or stamp != self._stamp:
                self._catalog = self._load(store, stamp)
                self._stamp = stamp
            self._checked = time.monotonic()
            return self._catalog

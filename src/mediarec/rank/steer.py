"""Applying a :class:`SteerQuery` to ranking: hard filters as a mask, the soft part as a score shift.

The facts the filters need (duration, spoken language, topic and tag words, text vectors) are read
once per catalogue snapshot. A fact the store does not have fails the filter on it: an item of
unknown duration is not "under 10 minutes", an item with no detected language is not "in French".
"""

from __future__ import annotations

import json
import math
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mediarec.rank.catalog import Catalog
from mediarec.rank.query import SteerQuery
from mediarec.rank.steer_rules import Vocabulary

if TYPE_CHECKING:
    from mediarec.store import Store

DAY = 86400.0
MIN_LANGUAGE_PROBABILITY = 0.5  # Whisper's detection below this is not taken as the item's language
STEER_WEIGHT = 1.0  # the soft shift is this times (cos towards - cos away), centred over the catalogue
_WORD = re.compile(r"[a-z0-9]+")

Encode = Callable[[list[str]], np.ndarray]


def stems(text: str) -> frozenset[str]:
    """Words cut to five letters ("footballers" matches "football"), as catalog.supported does."""
    return frozenset(w[:5] for w in _WORD.findall(text.lower()))


@dataclass(frozen=True)
class ItemFacts:
    """Per catalogue position: what the hard filters and the soft shift read."""

    durations: np.ndarray  # seconds (the items table, else metadata, else the probe), NaN where unknown
    languages: list[str | None]
    words: list[frozenset[str]]  # stems of the item's topics, tags and title
    text: np.ndarray | None  # unit text-encoder vectors, zeros where missing
    has_text: np.ndarray


def load_facts(store: Store, catalog: Catalog) -> ItemFacts:
    n = len(catalog)
    durations = np.full(n, np.nan)
    languages: list[str | None] = [None] * n
    for internal, _, _, _, _, _, meta_json in store.item_rows():
        pos = catalog.by_internal.get(int(internal))
        if pos is None or not meta_json:
            continue
        try:
            meta = json.loads(meta_json)
        except ValueError:
            continue
        if isinstance(meta, dict):
            d = meta.get("duration")
            if isinstance(d, int | float) and not isinstance(d, bool) and math.isfinite(d) and d > 0:
                durations[pos] = float(d)
            lang = meta.get("language")
            if isinstance(lang, str) and re.fullmatch(r"[a-z]{2}", lang.lower()):
                languages[pos] = lang.lower()
    # The items table's duration (set at import, or measured by the probe at ingest) wins.
    for internal, seconds in store.conn.execute("SELECT id, duration FROM items WHERE duration IS NOT NULL"):
        pos = catalog.by_internal.get(int(internal))
        if pos is not None and seconds is not None and math.isfinite(float(seconds)):
            durations[pos] = float(seconds)
    vectors: dict[int, np.ndarray] = {}
    for internal, extractor, payload, vector in store.latest_features(("probe", "speech", "text")):
        pos = catalog.by_internal.get(int(internal))
        if pos is None:
            continue
        if extractor == "probe" and np.isnan(durations[pos]):
            d = payload.get("duration")
            if isinstance(d, int | float) and d > 0:
                durations[pos] = float(d)
        elif extractor == "speech" and languages[pos] is None:
            lang, p = payload.get("language"), payload.get("language_probability") or 0.0
            if isinstance(lang, str) and float(p) >= MIN_LANGUAGE_PROBABILITY:
                languages[pos] = lang
        elif extractor == "text" and vector is not None:
            vectors[pos] = vector
    text, has = None, np.zeros(n, dtype=bool)
    if vectors:
        dims = [v.shape[0] for v in vectors.values()]
        dim = max(set(dims), key=dims.count)
        text = np.zeros((n, dim), dtype=np.float32)
        for pos, v in vectors.items():
            norm = float(np.linalg.norm(v))
            if v.shape[0] == dim and norm > 0:
                text[pos], has[pos] = v / norm, True
    words = [
        stems(" ".join([*catalog.topics[p], *(t.tag for t in catalog.tags[p]), catalog.titles[p]]))
        for p in range(n)
    ]
    return ItemFacts(durations, languages, words, text, has)


class FactsCache:
    """The facts of the newest catalogue snapshot (a new snapshot object: reloaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._for: weakref.ref[Catalog] | None = None
        self._facts: ItemFacts | None = None

    def get(self, store: Store, catalog: Catalog) -> ItemFacts:
        with self._lock:
            if self._facts is not None and self._for is not None and self._for() is catalog:
                return self._facts
            facts = load_facts(store, catalog)
            self._for, self._facts = weakref.ref(catalog), facts
            return facts


def vocabulary(catalog: Catalog) -> Vocabulary:
    """The topics and creators the parsers may name: the catalogue's own."""
    return Vocabulary.of(catalog.topics, catalog.creators)


def _has_any(words: list[frozenset[str]], terms: tuple[str, ...]) -> np.ndarray:
    wanted = [stems(t) for t in terms]
    wanted = [w for w in wanted if w]
    return np.asarray([any(w <= item for w in wanted) for item in words], dtype=bool)


def constraint_masks(
    q: SteerQuery, catalog: Catalog, facts: ItemFacts, now: float
) -> list[tuple[str, np.ndarray]]:
    """(constraint in words, the items satisfying it) for every hard constraint of ``q``."""
    n = len(catalog)
    out: list[tuple[str, np.ndarray]] = []
    d = facts.durations
    known = ~np.isnan(d)
    if q.min_duration_s is not None:
        out.append((f"duration ≥ {q.min_duration_s:g} s", known & (np.nan_to_num(d) >= q.min_duration_s)))
    if q.max_duration_s is not None:
        out.append((f"duration ≤ {q.max_duration_s:g} s", known & (np.nan_to_num(d) <= q.max_duration_s)))
    if q.kinds:
        out.append(("kind " + " or ".join(q.kinds), np.asarray([k in q.kinds for k in catalog.kinds], bool)))
    if q.languages:
        langs = np.asarray([lang in q.languages for lang in facts.languages], dtype=bool)
        out.append(("language " + " or ".join(q.languages), langs))
    if q.creators:
        out.append(
            ("by " + " or ".join(q.creators), np.asarray([c in q.creators for c in catalog.creators], bool))
        )
    if q.exclude_creators:
        keep = np.asarray([c not in q.exclude_creators for c in catalog.creators], dtype=bool)
        out.append(("not by " + ", ".join(q.exclude_creators), keep))
    if q.topics:
        out.append(("topic " + " or ".join(q.topics), _has_any(facts.words, q.topics)))
    if q.exclude_topics:
        out.append(("not " + ", ".join(q.exclude_topics), ~_has_any(facts.words, q.exclude_topics)))
    if q.max_age_days is not None:
        since = catalog.since if len(catalog.since) == n else np.zeros(n)
        out.append((f"from the last {q.max_age_days:g} days", since >= now - q.max_age_days * DAY))
    return out


@dataclass(frozen=True)
class Steering:
    """A query made ready for one catalogue snapshot."""

    query: SteerQuery
    mask: np.ndarray  # bool per catalogue position: satisfies every hard constraint
    shift: np.ndarray | None  # float per position, added to scores; None: no soft part applied
    empty_reason: str | None  # why no catalogue item satisfies the hard constraints
    soft_note: str | None = None  # why the soft part was not applied, when it was asked for

    def message(self, returned: int) -> str | None:
        """What to tell the user about an empty list (None when the list is not empty)."""
        if returned:
            return None
        if self.empty_reason:
            return self.empty_reason
        return (
            "the items that satisfy this request were all filtered out "
            "(already seen, or not offered to you yet)"
        )


def prepare(
    q: SteerQuery,
    catalog: Catalog,
    facts: ItemFacts,
    now: float,
    encode: Encode | None,
) -> Steering:
    n = len(catalog)
    mask = np.ones(n, dtype=bool)
    parts = constraint_masks(q, catalog, facts, now)
    for _, m in parts:
        mask &= m
    reason = None
    if not mask.any():
        if contradiction := q.contradiction():
            reason = f"no item can satisfy this request: {contradiction}"
        else:
            alone = [name for name, m in parts if not m.any()]
            reason = (
                f"no item in the catalogue satisfies: {'; '.join(alone)}"
                if alone
                else "no item in the catalogue satisfies all of: " + "; ".join(name for name, _ in parts)
            )
    shift, note = None, None
    if q.soft:
        if facts.text is None or not facts.has_text.any():
            note = "the soft part was not applied: no item has text vectors (ingest with the text stage)"
        elif encode is None:
            note = "the soft part was not applied: the text encoder is not installed (mediarec kit install)"
        else:
            try:
                shift = soft_shift(q, facts, encode)
            except EncoderMismatch as exc:
                note = f"the soft part was not applied: {exc}"
    return Steering(q, mask, shift, reason, note)


class EncoderMismatch(ValueError):
    """The request's words and the items' text vectors come from different encoders."""


def soft_shift(q: SteerQuery, facts: ItemFacts, encode: Encode) -> np.ndarray:
    """STEER_WEIGHT × (mean cosine to ``towards`` − mean cosine to ``away``), centred over the items
    with text vectors; 0 for items without (no evidence, no shift)."""
    assert facts.text is not None
    has = facts.has_text
    total = np.zeros(len(has), dtype=np.float64)
    for terms, sign in ((q.towards, 1.0), (q.away, -1.0)):
        if not terms:
            continue
        vecs = np.asarray(encode(list(terms)), dtype=np.float32)
        if vecs.shape[1] != facts.text.shape[1]:
            # Items embedded by another text model (text_model changed since ingest): cosines
            # between the two spaces would mean nothing, so no shift rather than a false one.
            raise EncoderMismatch(
                f"the items' text vectors have {facts.text.shape[1]} dimensions, the text encoder "
                f"gives {vecs.shape[1]} (re-run the text stage of ingest with this encoder)"
            )
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        total += sign * (facts.text @ vecs.T).mean(axis=1)
    total[has] -= total[has].mean()
    total[~has] = 0.0
    return (STEER_WEIGHT * total).astype(np.float32)

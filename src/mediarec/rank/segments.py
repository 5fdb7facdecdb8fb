"""Timed text of the catalogue, searchable: transcript segments, on-screen text per shot, LLM key
moments and the cited evidence of LLM tags, each with the time range it covers.

A query is scored against every segment two ways: BM25 over word stems (the words themselves) and
the cosine of text-encoder vectors (the meaning). A segment is a match only when it shares a word
with the query or its cosine reaches :data:`MIN_COSINE`, so a search with nothing relevant returns
nothing rather than the least bad segments (true, or silent).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.rank.catalog import Catalog

if TYPE_CHECKING:
    from mediarec.store import Store

MIN_COSINE = 0.45  # MiniLM cosine of a query and a sentence that is about it (demo: 0.5-0.8)
# Within an item whose topic is the query (a user's interest), the segment closest to it, if at least
# this close: a one-word topic ("programming") is far from any one sentence of a lesson on it.
MIN_COSINE_IN_ITEM = 0.15
LEXICAL_WEIGHT = 0.5  # the BM25 part (normalised to the best segment's) counts this much beside the cosine
MAX_EMBEDDED = 50_000  # segments embedded per snapshot; beyond that, search is lexical only
OCR_PAD_S = 1.0  # an on-screen line without its shot's bounds covers this long around its keyframe
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "is",
        "are",
        "was",
        "be",
        "it",
        "its",
        "this",
        "that",
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "do",
        "does",
        "i",
        "you",
        "your",
        "my",
        "me",
        "we",
        "our",
        "they",
        "their",
    ]
)

Encode = Callable[[list[str]], np.ndarray]


def stems(text: str) -> list[str]:
    return [w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP]


@dataclass(frozen=True)
class Segment:
    pos: int  # catalogue position
    start: float
    end: float
    text: str
    source: str  # "transcript" | "on-screen" | "moment" | "tag"


@dataclass(frozen=True)
class Match:
    segment: Segment
    score: float
    cosine: float
    shared_words: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.segment.start, 2),
            "end": round(self.segment.end, 2),
            "text": self.segment.text,
            "source": self.segment.source,
            "score": round(self.score, 4),
        }


def load_segments(store: Store, catalog: Catalog) -> list[Segment]:
    out: list[Segment] = []
    shots: dict[int, list[dict[str, Any]]] = {}
    ocr: dict[int, list[dict[str, Any]]] = {}
    for internal, extractor, payload, _ in store.latest_features(("speech", "ocr", "shots")):
        pos = catalog.by_internal.get(int(internal))
        if pos is None or not isinstance(payload, dict):
            continue
        if extractor == "speech":
            for s in payload.get("segments") or []:
                text = str(s.get("text", "")).strip()
                if text and _num(s.get("start")) is not None:
                    t0 = float(s["start"])
                    t1 = _num(s.get("end"))
                    out.append(Segment(pos, t0, t1 if t1 is not None else t0, text, "transcript"))
        elif extractor == "ocr":
            ocr[pos] = [x for x in payload.get("lines") or [] if isinstance(x, dict)]
        else:
            shots[pos] = [x for x in payload.get("shots") or [] if isinstance(x, dict)]
    for pos, lines in ocr.items():
        by_shot: dict[Any, list[dict[str, Any]]] = {}
        for line in lines:
            by_shot.setdefault(line.get("shot"), []).append(line)
        for shot, group in by_shot.items():
            text = " ".join(str(x.get("text", "")).strip() for x in group).strip()
            times = [t for t in (_num(x.get("time")) for x in group) if t is not None]
            if not text or not times:
                continue
            bounds = shots.get(pos, [])
            lo: float | None = None
            hi: float | None = None
            if isinstance(shot, int) and 0 <= shot < len(bounds):
                lo, hi = _num(bounds[shot].get("start")), _num(bounds[shot].get("end"))
            if lo is None or hi is None:
                lo, hi = max(0.0, min(times) - OCR_PAD_S), max(times) + OCR_PAD_S
            out.append(Segment(pos, lo, hi, text, "on-screen"))
    for pos, moments in enumerate(catalog.moments):
        for m in moments:
            m0, label = _num(m.get("start")), str(m.get("label") or m.get("text") or "").strip()
            if m0 is not None and label:
                m1 = _num(m.get("end"))
                out.append(Segment(pos, m0, m1 if m1 is not None else m0, label, "moment"))
    for pos, tags in enumerate(catalog.tags):
        for tag in tags:
            for ev in tag.evidence:
                start = _num(ev.get("start"))
                if start is not None and ev.get("text"):
                    end = _num(ev.get("end"))
                    out.append(Segment(pos, start, end if end is not None else start, str(ev["text"]), "tag"))
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


class SegmentIndex:
    """BM25 postings and (when an encoder is given) unit vectors of every segment of a snapshot."""

    def __init__(self, segments: list[Segment], encode: Encode | None = None) -> None:
        self.segments = segments
        docs = [stems(s.text) for s in segments]
        self.lengths = np.asarray([len(d) for d in docs], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if len(docs) else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for k, d in enumerate(docs):
            for w, c in Counter(d).items():
                self.postings.setdefault(w, []).append((k, c))
        self.vectors: np.ndarray | None = None
        if encode is not None and segments and len(segments) <= MAX_EMBEDDED:
            v = np.asarray(encode([s.text for s in segments]), dtype=np.float32)
            self.vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        self.encode = encode

    def bm25(self, query: str, k1: float = 1.2, b: float = 0.75) -> tuple[np.ndarray, list[set[str]]]:
        n = len(self.segments)
        scores = np.zeros(n, dtype=np.float64)
        shared: list[set[str]] = [set() for _ in range(n)]
        for w in set(stems(query)):
            posting = self.postings.get(w, [])
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for k, c in posting:
                norm = c + k1 * (1 - b + b * self.lengths[k] / self.avg)
                scores[k] += idf * c * (k1 + 1) / norm
                shared[k].add(w)
        return scores, shared

    def search(
        self, query: str, allowed: np.ndarray | None = None, min_cosine: float = MIN_COSINE
    ) -> list[Match]:
        """Matching segments, best first (``allowed``: per catalogue position, may be returned;
        ``min_cosine``: lower where the item is already known to be about the query)."""
        if not self.segments:
            return []
        lexical, shared = self.bm25(query)
        top = lexical.max()
        lex = lexical / top if top > 0 else lexical
        cos = np.zeros(len(self.segments), dtype=np.float64)
        if self.vectors is not None and self.encode is not None:
            q = np.asarray(self.encode([query]), dtype=np.float32)[0]
            q /= max(float(np.linalg.norm(q)), 1e-12)
            cos = self.vectors @ q
        score = cos + LEXICAL_WEIGHT * lex
        ok = (lexical > 0) | (cos >= min_cosine)
        if allowed is not None:
            ok &= allowed[[s.pos for s in self.segments]]
        order = [int(k) for k in np.argsort(-score, kind="stable") if ok[k]]
        return [
            Match(self.segments[k], float(score[k]), float(cos[k]), tuple(sorted(shared[k]))) for k in order
        ]


def group_by_item(matches: list[Match], n: int, per_item: int = 3) -> list[tuple[int, list[Match]]]:
    """(catalogue position, its best matches) for the ``n`` items with the best matches; an item's
    further ranges are kept only when they score at least 80% of its best."""
    out: dict[int, list[Match]] = {}
    for m in matches:
        group = out.get(m.segment.pos)
        if group is None:
            if len(out) >= n:
                continue
            out[m.segment.pos] = [m]
        elif len(group) < per_item and m.score >= 0.8 * group[0].score:
            group.append(m)
    return list(out.items())

"""Search over what is said and shown, and moment-level recommendations.

``search("kneading dough")``: items whose transcript, on-screen text, LLM key moments or tag
evidence match, each with the matching time ranges (rank/segments.py). ``moments(user)``: for the
user's recommended items that carry one of the user's interests, the segment of the item that is
closest to that interest, so a player can start there (``?t=start``).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.rank.catalog import Catalog
from mediarec.rank.segments import MIN_COSINE_IN_ITEM, SegmentIndex, group_by_item, load_segments
from mediarec.rank.steer import stems

if TYPE_CHECKING:
    from mediarec.engine import MediaRec

MAX_QUERY_CHARS = 200
MOMENT_POOL = 30  # recommended items looked at for a user's moments


@dataclass(frozen=True)
class Hit:
    """An item and where in it the query (or the user's interest) is met."""

    item_id: str
    title: str
    kind: str
    score: float
    ranges: list[dict[str, Any]]
    why: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "item_id": self.item_id,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 4),
            "start": self.ranges[0]["start"],
            "end": self.ranges[0]["end"],
            "ranges": self.ranges,
        }
        if self.why:
            out["why"] = self.why
        return {**out, **self.extra}


def check_query(q: str) -> str:
    text = " ".join(str(q).split())
    if not text:
        raise ValueError("q: empty query")
    if len(q) > MAX_QUERY_CHARS:
        raise ValueError(f"q: at most {MAX_QUERY_CHARS} characters, got {len(q)}")
    return text


class Finder:
    """The segment index of the newest catalogue snapshot, built on first use."""

    def __init__(self, engine: MediaRec) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._for: weakref.ref[Catalog] | None = None
        self._index: SegmentIndex | None = None

    def index(self) -> tuple[Catalog, SegmentIndex]:
        catalog = self.engine._ranker.catalogs.get(self.engine.store)
        with self._lock:
            if self._index is None or self._for is None or self._for() is not catalog:
                encode = self.engine.steerer.encoder()
                self._index = SegmentIndex(load_segments(self.engine.store, catalog), encode)
                self._for = weakref.ref(catalog)
            return catalog, self._index

    def search(self, q: str, n: int = 10) -> list[Hit]:
        text = check_query(q)
        catalog, index = self.index()
        out = []
        for pos, matches in group_by_item(index.search(text), n):
            out.append(
                Hit(
                    str(catalog.item_ids[pos]),
                    catalog.titles[pos],
                    catalog.kinds[pos],
                    matches[0].score,
                    [m.to_dict() for m in matches],
                )
            )
        return out

    def moments(self, user: str, n: int = 10) -> list[Hit]:
        """Moments of the user's recommended items where one of the user's interests is met: the
        item carries the interest (topic or tag) and the segment is the item's best match for it."""
        engine = self.engine
        interests = [i for i in engine.interests(user, limit=10) if i.weight > 0]
        if not interests:
            return []
        recs = engine.recommend(user, n=MOMENT_POOL)
        catalog, index = self.index()
        out: list[Hit] = []
        for rank, rec in enumerate(recs):
            pos = catalog.index.get(rec.item_id)
            if pos is None:
                continue
            words = stems(" ".join([*catalog.topics[pos], *(t.tag for t in catalog.tags[pos])]))
            carried = [i for i in interests if set(stems(i.tag)) and set(stems(i.tag)) <= words]
            if not carried:
                continue
            interest = carried[0]
            only = [s.pos == pos for s in index.segments]
            if not any(only):
                continue
            allowed = np.zeros(len(catalog), dtype=bool)
            allowed[pos] = True
            found = index.search(interest.tag, allowed, MIN_COSINE_IN_ITEM)
            if not found:
                # The item is about the interest but no segment names it or is close to it: its
                # first segment would be a guess, so the item is left out (true, or silent).
                continue
            best = found[0]
            quote = best.segment.text[:120]
            why = f'about {interest.tag}, one of your interests; the part closest to it: "{quote}"'
            out.append(
                Hit(
                    rec.item_id,
                    rec.title,
                    rec.kind or catalog.kinds[pos],
                    interest.weight / (1 + rank),
                    [best.to_dict()],
                    why,
                    {"interest": interest.tag},
                )
            )
            if len(out) >= n:
                break
        return out

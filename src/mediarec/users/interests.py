"""A user's history as the taste profile sees it, and deterministic weighted interest tags from it.

Every event weighs what the training matrix says it weighs (:class:`InteractionWeights`: a view
its watch fraction, a like 2, a share 3, a comment 2), except that a skip counts *against* the
item here: the training matrix only needs to know what was seen, but a profile should not call
a topic an interest when the user keeps skipping it. An item's weight goes to each of its tags.

Item tags come from the best source stored for the item: the LLM's understanding of the content
(extractor ``llm``: its tags and topics), else the catalogue's own ``tags`` and ``genres``
metadata (MovieLens genres), else none. All are normalised to the tag pattern of the LLM layer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.interactions import InteractionWeights
from mediarec.llm.items import TAG_PATTERN

if TYPE_CHECKING:
    from mediarec.store import Store

LLM_EXTRACTOR = "llm"
_TAG = re.compile(TAG_PATTERN)


def normalise_tag(text: Any) -> str | None:
    """``text`` as a tag (lowercase ASCII, ``'``/``-``/space inside, 2-40 characters), or None.

    Accents are folded (``Française`` -> ``francaise``) and separators MovieLens and uploaders use
    (``_ / & | , ;``) become spaces.
    """
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    folded = re.sub(r"[_/&|,;:.+]+", " ", folded)
    folded = re.sub(r"[^a-z0-9 '\-]+", "", folded)
    tag = " ".join(folded.split()).strip("'- ")[:40].rstrip("'- ")
    return tag if _TAG.match(tag) else None


def normalise_tags(values: Iterable[Any]) -> tuple[str, ...]:
    """Normalised, de-duplicated tags in their first order; unusable ones are dropped."""
    out = [t for t in (normalise_tag(v) for v in values) if t]
    return tuple(dict.fromkeys(out))


def item_tags(
    llm_payload: Mapping[str, Any] | None, metadata: Mapping[str, Any]
) -> tuple[tuple[str, ...], str]:
    """(tags, source) of one item: source is ``"llm"``, ``"metadata"`` or ``"none"``."""
    if llm_payload:
        raw: list[Any] = []
        for entry in llm_payload.get("tags") or []:
            raw.append(entry.get("tag") if isinstance(entry, Mapping) else entry)
        raw += list(llm_payload.get("topics") or [])
        tags = normalise_tags(r for r in raw if isinstance(r, str))
        if tags:
            return tags, "llm"
    raw = []
    for key in ("tags", "genres"):
        value = metadata.get(key)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for v in values:  # "Comedy|Drama" as one string is two tags, in a list or not
            raw += re.split(r"[|,]", v) if isinstance(v, str) else []
    tags = normalise_tags(raw)
    return (tags, "metadata") if tags else ((), "none")


@dataclass(frozen=True)
class HistoryOptions:
    """What of a user's behaviour a profile reads."""

    max_events: int = 500  # newest events read; older behaviour falls out of the profile
    skip_weight: float = -1.0  # per skip, against the item's tags (0 ignores skips)
    weights: InteractionWeights = field(default_factory=InteractionWeights)  # the training weights


@dataclass(frozen=True)
class HistoryItem:
    """Everything one user did with one item, folded together."""

    item_id: str
    title: str
    tags: tuple[str, ...]
    tag_source: str  # "llm" | "metadata" | "none"
    weight: float  # summed event weights, skips negative
    watch_fraction: float | None  # the largest of the item's views, when known
    liked: bool
    shared: bool
    skipped: bool
    rating: float | None  # the newest rating
    comments: tuple[str, ...]  # raw, newest first: scrub before showing them to anything
    last_ts: float


@dataclass(frozen=True)
class UserHistory:
    user: str
    items: tuple[HistoryItem, ...]  # newest first

    def tags(self) -> set[str]:
        return {t for item in self.items for t in item.tags}


@dataclass(frozen=True)
class Interest:
    """A weighted interest tag; ``weight`` is 0..1 with the strongest at 1. ``source`` says who put
    it there: ``history`` (computed here), ``llm`` (the taste profile) or ``user`` (added by hand)."""

    tag: str
    weight: float
    source: str = "history"

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "weight": self.weight, "source": self.source}


def load_history(store: Store, user: str, options: HistoryOptions | None = None) -> UserHistory:
    """The user's newest events grouped by item, with each item's title and tags."""
    o = options or HistoryOptions()
    events = store.user_events(user, limit=o.max_events)
    by_item: dict[str, list[Any]] = {}
    for ev in events:  # newest first, so dict order is newest item first
        by_item.setdefault(ev.item, []).append(ev)
    stored = store.items_by_external_ids(by_item)
    items = []
    for item_id, evs in by_item.items():
        meta = stored[item_id].metadata if item_id in stored else {}
        found = store.latest_feature(item_id, LLM_EXTRACTOR)
        payload = found[1] if found is not None and isinstance(found[1], dict) else None
        tags, source = item_tags(payload, meta)
        types = np.asarray([e.type for e in evs], dtype=str)
        values = np.asarray([np.nan if e.value is None else e.value for e in evs], dtype=np.float64)
        weight = float(o.weights.weigh(types, values).sum()) + o.skip_weight * int((types == "skip").sum())
        views = [e.value for e in evs if e.type == "view" and e.value is not None]
        ratings = [e.value for e in evs if e.type == "rating" and e.value is not None]
        title = stored[item_id].title if item_id in stored else ""
        items.append(
            HistoryItem(
                item_id=item_id,
                title=title or item_id,
                tags=tags,
                tag_source=source,
                weight=weight,
                watch_fraction=max(views) if views else None,
                liked="like" in types,
                shared="share" in types,
                skipped="skip" in types,
                rating=ratings[0] if ratings else None,
                comments=tuple(e.comment for e in evs if e.comment and e.comment.strip()),
                last_ts=max(e.ts for e in evs),
            )
        )
    return UserHistory(user, tuple(items))


def compute_interests(history: UserHistory, limit: int | None = 20) -> list[Interest]:
    """Tags with a positive summed weight, strongest first, scaled so the strongest is 1.

    Ties are broken by tag so the result is the same on every run.
    """
    scores: dict[str, float] = {}
    for item in history.items:
        for tag in item.tags:
            scores[tag] = scores.get(tag, 0.0) + item.weight
    positive = {t: s for t, s in scores.items() if s > 0}
    if not positive:
        return []
    top = max(positive.values())
    ranked = sorted(positive.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit is not None:
        ranked = ranked[:limit]
    return [Interest(tag, round(score / top, 3)) for tag, score in ranked]


def user_interests(
    store: Store, user: str, options: HistoryOptions | None = None, limit: int | None = 20
) -> list[Interest]:
    """Deterministic interests of one stored user (no LLM), without the tags they removed from
    their profile: a removed tag is never an interest again until they add it back."""
    edits = store.profiles.edits(user)
    removed = set(edits.removed) if edits is not None else set()
    found = compute_interests(load_history(store, user, options), None)
    kept = [i for i in found if i.tag not in removed]
    return kept[:limit] if limit is not None else kept

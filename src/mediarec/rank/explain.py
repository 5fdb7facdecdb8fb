"""Explanations: a reason is shown only when its condition holds, and its evidence is in the store.

The first reason names the strongest source behind the item whose condition holds (see
:func:`explain`); an interest tag and a key moment follow when the item's LLM features (or its
metadata tags) support them. When no condition holds the item carries no reason: saying nothing
is better than saying something untrue.

Conditions, per kind:

- ``similar_to_seen``: the cosine between the item and the user's item it names is at least
  ``reason_min_similarity`` (content vectors) or ``reason_min_similarity_model`` (a CF model's item
  vectors); both chosen from demo data (docs/benchmarks.md);
- ``collaborative``: at least ``reason_min_coviewers`` other users engaged with the item and with one
  of this user's items (counted in the model's training matrix), and the text says that, with the count;
- ``interest_tag``: the tag is one of the user's current interests (tags of the items they liked,
  shared, commented on or watched at least half of) and not a tag they removed from their profile;
- ``trending``: at least :data:`TRENDING_MIN_VIEWERS` distinct viewers in the window;
- ``new``: the item was added within ``fresh_days``; ``explore``: a new, little-seen item shown to
  this user because their taste matches its content (rank/audience.py);
- ``popular``: at least one viewer, with the real count;
- ``moment``: the item has a key moment whose label has words (not just a time range); never alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediarec.rank.catalog import Catalog, ItemTag
from mediarec.rank.history import UserHistory
from mediarec.rank.records import Reason
from mediarec.rank.slices import gather_slices
from mediarec.users.interests import normalise_tag

_INTEREST_SOURCES = 3  # user items named as where an interest came from
TRENDING_MIN_VIEWERS = 3  # one or two recent viewers are not a trend
# An interest needs engagement: a like, share or comment, or views adding up to half the item
# (training weights: a view weighs its watch fraction, a like 2, a share 3, a comment 2).
ENGAGED_WEIGHT = 0.5
# A moment's label must say something: at least one word of three letters (not "0.0-6.0s").
_WORDY = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class Interests:
    """The user's interest tags: tag -> weight (their items' event weights times the tag's rarity),
    and the user's positive items newest first, to name where an interest came from."""

    weights: dict[str, float] = field(default_factory=dict)
    recent: tuple[int, ...] = ()
    # The walk over ``recent`` that sources() has made so far: tag -> the items carrying it, in
    # ``recent``'s order. Each call walks on only until its tag has ``limit`` items, so the reasons
    # of a whole list cost at most one walk over the history, not one per reason.
    _walk: _TagWalk | None = field(default=None, compare=False, repr=False)

    def sources(self, catalog: Catalog, tag: str, limit: int) -> list[int]:
        """The first ``limit`` recent items carrying ``tag``, newest first (all for ``limit <= 0``)."""
        walk = self._walk
        if walk is None or walk.catalog is not catalog:
            walk = _TagWalk(catalog)
            object.__setattr__(self, "_walk", walk)  # a cache, not a value: the dataclass is frozen
        return walk.first(self.recent, tag, limit)


class _TagWalk:
    __slots__ = ("catalog", "done", "tags")

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.done = 0  # items of ``recent`` indexed so far
        self.tags: dict[str, list[int]] = {}

    def first(self, recent: tuple[int, ...], tag: str, limit: int) -> list[int]:
        tags, found = self.tags, self.tags.get(tag, [])
        while (limit <= 0 or len(found) < limit) and self.done < len(recent):
            pos = recent[self.done]
            self.done += 1
            for name in dict.fromkeys(t.tag for t in self.catalog.tags[pos]):
                tags.setdefault(name, []).append(pos)
            found = tags.get(tag, found)
        return list(found) if limit <= 0 else found[:limit]


def removed_tags(store: Any, user: str) -> frozenset[str]:
    """Tags the user removed from their profile: no reason, interest or signal until added back."""
    edits = store.profiles.edits(user)
    return frozenset(edits.removed) if edits is not None else frozenset()


def user_interests(
    catalog: Catalog, history: UserHistory, removed: frozenset[str] = frozenset()
) -> Interests:
    """Tags of the items the user engaged with (:data:`ENGAGED_WEIGHT`), weighted by rarity.

    ``removed``: tags the user removed from their profile, never an interest until added back. A
    short sampling view (a quarter of a clip) is not an interest: it weighs under the threshold.
    """
    engaged = history.weights >= ENGAGED_WEIGHT
    items, weights = history.items[engaged], history.weights[engaged]
    kept = set(items.tolist())
    recent = tuple(p for p in history.recent.tolist() if p in kept)
    if not len(items) or not len(catalog.tag_index):
        return Interests({}, recent)
    starts, ends = catalog.tag_indptr[items], catalog.tag_indptr[items + 1]
    counts = ends - starts
    if not counts.sum():
        return Interests({}, recent)
    # Every item's slice of tag_index, gathered at once (a slice per item was a Python loop).
    tag_ids = gather_slices(catalog.tag_index, starts, counts)
    w = np.repeat(weights.astype(np.float64), counts)
    summed = np.bincount(tag_ids, weights=w, minlength=len(catalog.tag_names))
    # Weighted by rarity: a tag every item carries says nothing about this user.
    score = summed * catalog.tag_rarity
    hit = np.flatnonzero(score > 0)
    return Interests(
        {
            catalog.tag_names[k]: float(score[k])
            for k in hit.tolist()
            if not removed
            or (catalog.tag_names[k] not in removed and normalise_tag(catalog.tag_names[k]) not in removed)
        },
        recent,
    )


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _item_ref(catalog: Catalog, pos: int) -> dict[str, Any]:
    return {"item_id": str(catalog.item_ids[pos]), "title": catalog.titles[pos]}


def similar_reason(catalog: Catalog, anchor: int, similarity: float, space: str) -> Reason:
    ref = _item_ref(catalog, anchor)
    return Reason(
        "similar_to_seen",
        f"because you watched {ref['title']}",
        {**ref, "similarity": round(float(similarity), 4), "space": space},
    )


def interest_reason(catalog: Catalog, pos: int, interests: Interests) -> Reason | None:
    best: ItemTag | None = None
    for tag in catalog.tags[pos]:
        if tag.tag in interests.weights and (
            best is None or interests.weights[tag.tag] > interests.weights[best.tag]
        ):
            best = tag
    if best is None:
        return None
    came_from = [_item_ref(catalog, p) for p in interests.sources(catalog, best.tag, _INTEREST_SOURCES)]
    text = f"matches your interest in {best.tag!r}"
    spoken = next((e for e in best.evidence if e.get("text") and e.get("start") is not None), None)
    if spoken is not None:
        text += f' (at {_clock(float(spoken["start"]))}: "{str(spoken["text"])[:80]}")'
    return Reason(
        "interest_tag",
        text,
        {
            "tag": best.tag,
            "source": best.source,  # "llm": the item's LLM features; "metadata": its catalogue tags
            "item_evidence": [dict(e) for e in best.evidence],
            "from_items": came_from,
        },
    )


def moment_reason(catalog: Catalog, pos: int, tag: str | None) -> Reason | None:
    moments = catalog.moments[pos]
    if not moments:
        return None
    chosen = moments[0]
    if tag is not None:
        # Prefer the moment on a transcript segment the matched tag cites as its evidence.
        cited = {e.get("id") for t in catalog.tags[pos] if t.tag == tag for e in t.evidence}
        chosen = next((m for m in moments if m.get("segment") in cited), chosen)
    start = float(chosen["start"])
    label = str(chosen.get("label", "")).strip()
    if not _WORDY.search(label):
        return None  # no label, or only a time range ("0.0-6.0s"): it says nothing about the content
    return Reason(
        "moment",
        f"key moment at {_clock(start)}: {label}",
        {k: chosen[k] for k in ("segment", "start", "end", "label") if k in chosen},
    )


@dataclass(frozen=True)
class ExplainContext:
    """Everything the reasons of one list may cite, and the conditions they must meet."""

    catalog: Catalog
    interests: Interests
    cf_anchors: Mapping[int, tuple[int, float]]  # position -> (history position, cosine)
    content_anchors: Mapping[int, int]
    content_vectors: np.ndarray | None
    content_space: str
    model_name: str
    model_version: str
    folded_in: bool
    trending_viewers: np.ndarray
    trending_window_days: float
    viewers: np.ndarray  # training viewers per catalogue position (0 for items the model lacks)
    coviewers: Mapping[int, int] = field(default_factory=dict)  # position -> users sharing an item
    min_similarity: float = 0.0  # content space
    min_similarity_model: float = 0.0  # the CF model's item space
    min_coviewers: int = 1
    fresh_days: float = 30.0
    now: float = 0.0
    explore_match: Mapping[int, float] = field(default_factory=dict)  # explored position -> taste match


def _content_reason(ctx: ExplainContext, pos: int) -> Reason | None:
    if pos not in ctx.content_anchors or ctx.content_vectors is None:
        return None
    anchor = ctx.content_anchors[pos]
    sim = float(ctx.content_vectors[pos] @ ctx.content_vectors[anchor])
    if sim < ctx.min_similarity:
        return None
    return similar_reason(ctx.catalog, anchor, sim, ctx.content_space)


def _cf_reason(ctx: ExplainContext, pos: int) -> Reason | None:
    found = ctx.cf_anchors.get(pos)
    if found is not None and found[1] >= ctx.min_similarity_model:
        return similar_reason(ctx.catalog, found[0], found[1], ctx.model_name)
    shared = int(ctx.coviewers.get(pos, 0))
    if shared < max(ctx.min_coviewers, 1):
        return None
    return Reason(
        "collaborative",
        f"also watched by {shared} viewers who watched what you watched ({ctx.model_name})",
        {
            "model": ctx.model_name,
            "version": ctx.model_version,
            "folded_in": ctx.folded_in,
            "coviewers": shared,
        },
    )


def _trending_reason(ctx: ExplainContext, pos: int) -> Reason | None:
    return _trending(ctx, pos) if ctx.trending_viewers[pos] >= TRENDING_MIN_VIEWERS else None


def _new_reason(ctx: ExplainContext, pos: int) -> Reason | None:
    # New by when the item appeared (its first event, if older than the upload), not by the upload.
    appeared = float(ctx.catalog.since[pos])
    return _new(float(ctx.catalog.created[pos])) if (ctx.now - appeared) / 86400.0 <= ctx.fresh_days else None


def explain(ctx: ExplainContext, pos: int, parts: Mapping[str, float], explored: bool) -> tuple[Reason, ...]:
    """The reasons of one item: the strongest source whose condition holds, then detail.

    Sources are tried from the largest contribution to the blended score down, so an item the
    content source put in the list at a similarity below the threshold may still be explained by
    its CF neighbour, its trend or its freshness, and by nothing when none of those holds.
    """
    catalog = ctx.catalog
    reasons: list[Reason] = []
    primary: str | None = None
    if explored:
        reasons.append(
            Reason(
                "explore",
                "new and little seen yet: shown to a few viewers whose taste matches it",
                {
                    "created": float(catalog.created[pos]),
                    "viewers": int(ctx.viewers[pos]),
                    "taste_match": round(float(ctx.explore_match.get(pos, 0.0)), 4),
                },
            )
        )
    else:
        makers = {
            "content": _content_reason,
            "cf": _cf_reason,
            "trending": _trending_reason,
            "fresh": _new_reason,
        }
        order = sorted(parts, key=lambda k: -parts[k]) if parts else ["cf"]
        for source in order:
            made = makers[source](ctx, pos) if source in makers else None
            if made is not None:
                reasons.append(made)
                primary = source
                break
        # As a second reason, trending needs a few viewers: one recent viewer is not a trend.
        if primary != "trending" and parts.get("trending", 0.0) > 0:
            extra = _trending_reason(ctx, pos)
            if extra is not None:
                reasons.append(extra)
    interest = interest_reason(catalog, pos, ctx.interests)
    if interest is not None:
        reasons.append(interest)
    moment = moment_reason(catalog, pos, interest.evidence["tag"] if interest else None)
    if moment is not None and reasons:
        reasons.append(moment)  # a moment says where to start, not why: never the only reason
    return tuple(reasons)


def _trending(ctx: ExplainContext, pos: int) -> Reason:
    viewers = int(ctx.trending_viewers[pos])
    days = ctx.trending_window_days
    return Reason(
        "trending",
        f"{viewers} viewer{'s' if viewers != 1 else ''} in the last {days:g} days of activity",
        {"viewers": viewers, "window_days": days},
    )


def _new(created: float) -> Reason:
    when = time.strftime("%Y-%m-%d", time.gmtime(created))
    return Reason("new", f"added {when}", {"created": created})


def popular_reason(viewers: int) -> Reason | None:
    """The fallback's reason, with the real count; none for an item nobody engaged with."""
    if viewers < 1:
        return None
    return Reason(
        "popular", f"{viewers} viewer{'s' if viewers != 1 else ''} engaged with it", {"viewers": viewers}
    )

"""Explanations: every recommended item gets reasons whose evidence exists in the store.

The first reason names the strongest source behind the item; an interest tag and a key moment
follow when the item's LLM features (or its metadata tags) support them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediarec.rank.catalog import Catalog, ItemTag
from mediarec.rank.history import UserHistory
from mediarec.rank.records import Reason

_INTEREST_SOURCES = 3  # user items named as where an interest came from


@dataclass(frozen=True)
class Interests:
    """The user's interest tags: tag -> weight (their items' event weights times the tag's rarity),
    and the user's positive items newest first, to name where an interest came from."""

    weights: dict[str, float] = field(default_factory=dict)
    recent: tuple[int, ...] = ()

    def sources(self, catalog: Catalog, tag: str, limit: int) -> list[int]:
        found = []
        for pos in self.recent:
            if any(t.tag == tag for t in catalog.tags[pos]):
                found.append(pos)
                if len(found) == limit:
                    break
        return found


def user_interests(catalog: Catalog, history: UserHistory) -> Interests:
    if not len(history.items) or not len(catalog.tag_index):
        return Interests({}, tuple(history.recent.tolist()))
    starts, ends = catalog.tag_indptr[history.items], catalog.tag_indptr[history.items + 1]
    counts = ends - starts
    if not counts.sum():
        return Interests({}, tuple(history.recent.tolist()))
    tag_ids = np.concatenate([catalog.tag_index[a:b] for a, b in zip(starts, ends, strict=True)])
    w = np.repeat(history.weights.astype(np.float64), counts)
    summed = np.bincount(tag_ids, weights=w, minlength=len(catalog.tag_names))
    # Weighted by rarity: a tag every item carries says nothing about this user.
    score = summed * catalog.tag_rarity
    hit = np.flatnonzero(score > 0)
    return Interests(
        {catalog.tag_names[k]: float(score[k]) for k in hit.tolist()}, tuple(history.recent.tolist())
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
    return Reason(
        "moment",
        f"key moment at {_clock(start)}" + (f": {label}" if label else ""),
        {k: chosen[k] for k in ("segment", "start", "end", "label") if k in chosen},
    )


@dataclass(frozen=True)
class ExplainContext:
    """Everything the reasons of one list may cite."""

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


def explain(ctx: ExplainContext, pos: int, parts: Mapping[str, float], explored: bool) -> tuple[Reason, ...]:
    catalog = ctx.catalog
    created = float(catalog.created[pos])
    reasons: list[Reason] = []
    if explored:
        reasons.append(
            Reason(
                "explore",
                "new and little seen yet: shown so you can discover it",
                {"created": created, "viewers": int(ctx.viewers[pos])},
            )
        )
    else:
        primary = max(parts, key=lambda k: parts[k]) if parts else "cf"
        if primary == "content" and pos in ctx.content_anchors:
            anchor = ctx.content_anchors[pos]
            sim = 0.0
            if ctx.content_vectors is not None:
                sim = float(ctx.content_vectors[pos] @ ctx.content_vectors[anchor])
            reasons.append(similar_reason(catalog, anchor, sim, ctx.content_space))
        elif primary == "trending":
            reasons.append(_trending(ctx, pos))
        elif primary == "fresh":
            reasons.append(_new(created))
        elif pos in ctx.cf_anchors:
            anchor, sim = ctx.cf_anchors[pos]
            reasons.append(similar_reason(catalog, anchor, sim, ctx.model_name))
        else:
            reasons.append(
                Reason(
                    "collaborative",
                    f"liked by viewers with your taste ({ctx.model_name})",
                    {"model": ctx.model_name, "version": ctx.model_version, "folded_in": ctx.folded_in},
                )
            )
        # As a second reason, trending needs a few viewers: one recent viewer is not a trend.
        if primary != "trending" and parts.get("trending", 0.0) > 0 and ctx.trending_viewers[pos] >= 3:
            reasons.append(_trending(ctx, pos))
    interest = interest_reason(catalog, pos, ctx.interests)
    if interest is not None:
        reasons.append(interest)
    moment = moment_reason(catalog, pos, interest.evidence["tag"] if interest else None)
    if moment is not None:
        reasons.append(moment)
    return tuple(reasons)


def _trending(ctx: ExplainContext, pos: int) -> Reason:
    viewers = int(ctx.trending_viewers[pos])
    days = ctx.trending_window_days
    return Reason(
        "trending",
        f"trending: {viewers} viewer{'s' if viewers != 1 else ''} in the last {days:g} days of activity",
        {"viewers": viewers, "window_days": days},
    )


def _new(created: float) -> Reason:
    when = time.strftime("%Y-%m-%d", time.gmtime(created))
    return Reason("new", f"new: added {when}", {"created": created})


def popular_reason(viewers: int) -> Reason:
    return Reason("popular", f"popular: {viewers} viewers", {"viewers": viewers})

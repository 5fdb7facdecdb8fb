"""Every knob of request-time ranking, with its default and why; settings mirror each as ``rank_<name>``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SOURCES = ("cf", "content", "trending", "fresh")


@dataclass(frozen=True)
class RankOptions:
    """How candidates are gathered, blended, filtered, diversified, freshened and explored.

    Scores of each source are min-max normalised over that source's candidates before the weighted
    sum, so the weights compare like with like whatever scale a model scores on.
    """

    # -- candidates ------------------------------------------------------------------------------
    candidates: int = 200  # top items taken from each source; bounds per-request work
    weight_cf: float = 1.0  # collaborative model scores (the model's or a folded-in user vector)
    weight_content: float = 0.3  # nearest items to the user's recent positives
    weight_trending: float = 0.1  # time-decayed popularity over the recent window
    weight_fresh: float = 0.05  # newest uploads, newest first
    weight_cold: float = 0.5  # items the model has never seen (added after training) have no CF
    # score; their normalised content score counts this much in its place, so they can compete
    recent_items: int = 20  # the user's latest positive items that seed content neighbours
    trending_window_days: float = 14.0  # events older than this (before the newest event) are ignored
    trending_half_life_days: float = 3.0  # an event this old counts half in trending
    fresh_days: float = 30.0  # items added within this many days count as new
    # -- filters ---------------------------------------------------------------------------------
    watched_fraction: float = 0.9  # views at or past this fraction drop the item even when seen
    # items are allowed back (exclude_seen=False); 0 turns the filter off
    # -- score adjustments -----------------------------------------------------------------------
    freshness_boost: float = 0.05  # added to the blended score of a brand-new item, halving with age
    freshness_half_life_days: float = 7.0
    # -- diversity -------------------------------------------------------------------------------
    mmr_lambda: float = 0.8  # MMR trade-off: 1 ranks by relevance alone, lower trades it for variety
    mmr_pool: int = 100  # how many of the best candidates MMR chooses from
    max_per_creator: int = 0  # at most this many items by one creator in a list; 0 = no cap
    max_per_topic: int = 0  # at most this many items sharing a topic; 0 = no cap
    # -- exploration -----------------------------------------------------------------------------
    explore_epsilon: float = 0.05  # chance that a slot (after the first) goes to a new, little-seen item
    explore_max_viewers: int = 3  # items with fewer training viewers than this may be explored
    seed: int = 42  # exploration draws are seeded by (seed, user): the same request, the same list
    # -- new items' audience (rank/audience.py) --------------------------------------------------
    new_item_share: float = 0.2  # a new, little-seen item may reach at most this share of users per
    # period, the ones whose taste vector matches its content best; 1 turns the bound off
    new_item_period_days: float = 7.0  # each period the next-best-matching share is offered it
    new_item_min_match: float = 0.26  # centred cosine(user taste, item content) below this: never
    # offered the new item by any source; where 90% of demo (user, unseen clip) pairs above it match
    # the user's planted topic (bench/bench_reasons.py; 70% there, at 0.14, gave 55-67% on new clips)
    # -- reasons (rank/explain.py): each kind is shown only when its condition holds ------------------
    reason_min_similarity: float = 0.70  # "because you watched": content cosine at least this; where
    # 99% of demo clip pairs at or above it share a topic (fused vectors; bench/bench_reasons.py)
    reason_min_similarity_model: float = 0.84  # the same in a CF model's item space (demo ALS: 99%)
    reason_min_coviewers: int = 2  # a collaborative reason ("also watched by"): at least this many users
    # engaged with the item and with one of this user's items

    def __post_init__(self) -> None:
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must lie in [0, 1], got {self.mmr_lambda}")
        if not 0.0 <= self.explore_epsilon <= 1.0:
            raise ValueError(f"explore_epsilon must lie in [0, 1], got {self.explore_epsilon}")
        if self.candidates < 1 or self.mmr_pool < 1:
            raise ValueError("candidates and mmr_pool must be at least 1")
        if not 0.0 < self.new_item_share <= 1.0:
            raise ValueError(f"new_item_share must lie in (0, 1], got {self.new_item_share}")
        if self.new_item_period_days <= 0:
            raise ValueError("new_item_period_days must be positive")
        if self.max_per_creator < 0 or self.max_per_topic < 0:
            raise ValueError("caps must be 0 (off) or positive")
        for name in (*(f"weight_{s}" for s in SOURCES), "weight_cold", "freshness_boost"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def weight(self, source: str) -> float:
        return float(getattr(self, f"weight_{source}"))

    @classmethod
    def from_settings(cls, settings: Any) -> RankOptions:
        """Options from ``rank_<name>`` settings; ``seed`` follows the global ``seed`` setting."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = "seed" if f.name == "seed" else f"rank_{f.name}"
            if hasattr(settings, key):
                values[f.name] = getattr(settings, key)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> RankOptions:
        clean = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **clean) if clean else self

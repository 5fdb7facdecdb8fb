"""What ranking returns: recommendations with the reasons behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FALLBACK_POPULARITY = "popularity"  # Recommendation.fallback of the popular list


@dataclass(frozen=True)
class Reason:
    """Why an item is recommended: ``kind`` names the rule, ``evidence`` points at what supports it.

    Kinds: ``similar_to_seen`` (an item the user engaged with: ``item_id``, ``title``),
    ``interest_tag`` (a tag of this item matching the user's interests, with the item's grounding
    evidence and the user's items it came from), ``moment`` (a key moment: ``start`` seconds),
    ``collaborative``, ``trending``, ``new``, ``explore``, ``popular``, and ``similar_item`` (the
    model's neighbours) or ``similar_content`` (content vectors, for an item nobody engaged with) from
    :meth:`MediaRec.similar`.
    """

    kind: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "evidence": self.evidence}


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    title: str
    kind: str | None = None
    creator: str | None = None
    reasons: tuple[Reason, ...] = ()
    # None for a personal pick; "popularity" when the model could not score the user and the item
    # comes from the popular list (its score is then viewers / the most viewed item's, 0..1)
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "score": self.score,
            "title": self.title,
            "kind": self.kind,
            "creator": self.creator,
            "reasons": [r.to_dict() for r in self.reasons],
            "fallback": self.fallback,
        }


@dataclass(frozen=True)
class RankResult:
    """A ranked list plus how it was made: ``fallback`` when no personal signal was available,
    ``folded_in`` when the user's vector came from live events rather than training."""

    items: list[Recommendation]
    fallback: bool = False
    folded_in: bool = False
    sources: dict[str, int] = field(default_factory=dict)  # candidates each source contributed
    model_version: str | None = None  # the saved version that ranked (None: no model trained yet)

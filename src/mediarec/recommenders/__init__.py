"""Recommenders: one base, one file per model, a registry of names, versioned storage."""

from __future__ import annotations

from typing import Any

from mediarec.recommenders.als import ALSParams, ALSRecommender
from mediarec.recommenders.base import NotFittedError, Params, Recommender
from mediarec.recommenders.bpr import BPRParams, BPRRecommender
from mediarec.recommenders.content import ContentParams, ContentRecommender
from mediarec.recommenders.dlae import DLAEParams, DLAERecommender
from mediarec.recommenders.ease import EASEParams, EASERecommender
from mediarec.recommenders.gfcf import GFCFParams, GFCFRecommender
from mediarec.recommenders.hybrid import HybridParams, HybridRecommender
from mediarec.recommenders.itemknn import ItemKNNParams, ItemKNNRecommender
from mediarec.recommenders.popularity import PopularityParams, PopularityRecommender
from mediarec.recommenders.random import RandomParams, RandomRecommender

# name -> (class, parameter overrides). Names are what the CLI, API and settings accept.
MODELS: dict[str, tuple[type[Recommender], dict[str, Any]]] = {
    "random": (RandomRecommender, {}),
    "popularity": (PopularityRecommender, {}),
    # Neighbour counts tuned on the ML-1M split (docs/benchmarks.md): cosine peaks near 20, BM25 near 100.
    "itemknn": (ItemKNNRecommender, {"similarity": "cosine", "neighbours": 20}),
    "itemknn-bm25": (ItemKNNRecommender, {"similarity": "bm25", "neighbours": 100}),
    "als": (ALSRecommender, {}),
    "bpr": (BPRRecommender, {}),
    "ease": (EASERecommender, {}),
    "dlae": (DLAERecommender, {}),
    "gfcf": (GFCFRecommender, {}),
    # Feature-aware models: fit(interactions, item_features=...) with one vector per item.
    "content": (ContentRecommender, {}),
    "hybrid": (HybridRecommender, {}),
}
CLASSES: dict[str, type[Recommender]] = {cls.name: cls for cls, _ in MODELS.values()}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model by registry name; ``params`` override the preset's options."""
    try:
        cls, preset = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None
    known = {f for f in cls.params_cls.__dataclass_fields__}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"model {name!r} has no option(s) {', '.join(unknown)}; it takes {', '.join(sorted(known))}"
        )
    return cls(**{**preset, **params})


__all__ = [
    "CLASSES",
    "MODELS",
    "ALSParams",
    "ALSRecommender",
    "BPRParams",
    "BPRRecommender",
    "ContentParams",
    "ContentRecommender",
    "DLAEParams",
    "DLAERecommender",
    "EASEParams",
    "EASERecommender",
    "GFCFParams",
    "GFCFRecommender",
    "HybridParams",
    "HybridRecommender",
    "ItemKNNParams",
    "ItemKNNRecommender",
    "NotFittedError",
    "Params",
    "PopularityParams",
    "PopularityRecommender",
    "RandomParams",
    "RandomRecommender",
    "Recommender",
    "create",
]

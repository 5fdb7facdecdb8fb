"""Request-time ranking: candidate sources, blending, filters, MMR diversity with caps, freshness,
ε-exploration, fold-in of new events, and explanations with evidence. See :class:`RankOptions`."""

from mediarec.rank.options import SOURCES, RankOptions
from mediarec.rank.ranker import ModelRef, Ranker
from mediarec.rank.records import RankResult, Reason, Recommendation

__all__ = ["SOURCES", "ModelRef", "RankOptions", "RankResult", "Ranker", "Reason", "Recommendation"]

"""Offline evaluation: train/test splits, full-ranking metrics, a runner and reports."""

from __future__ import annotations

from mediarec.eval.metrics import (
    MetricOptions,
    all_metrics,
    coverage,
    default_item_vectors,
    hit_rate_at_k,
    hits,
    intra_list_diversity,
    item_popularity,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
)
from mediarec.eval.report import to_json, to_markdown, write_report
from mediarec.eval.runner import EvalOptions, ModelResult, Report, evaluate
from mediarec.eval.splits import (
    SPLITS,
    Split,
    SplitError,
    given_split,
    leave_last_out,
    make_split,
    random_split,
    temporal_split,
)

__all__ = [
    "SPLITS",
    "EvalOptions",
    "MetricOptions",
    "ModelResult",
    "Report",
    "Split",
    "SplitError",
    "all_metrics",
    "coverage",
    "default_item_vectors",
    "evaluate",
    "given_split",
    "hit_rate_at_k",
    "hits",
    "intra_list_diversity",
    "item_popularity",
    "leave_last_out",
    "make_split",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "random_split",
    "recall_at_k",
    "temporal_split",
    "to_json",
    "to_markdown",
    "write_report",
]

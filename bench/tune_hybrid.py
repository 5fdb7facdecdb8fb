"""Choose the content and hybrid models' defaults on a validation split carved from TRAINING data.

The dataset's test events are dropped first (the given test fold, or the temporal split's test
side), so nothing here ever sees them. On what is left:

* warm validation: a per-user random 20% of the training events (seed 7);
* cold validation: a random 20% of the training items held out entirely (seed 7), ranked among
  themselves.

The search is coordinate-wise (``GRID``), in the order the knobs matter: EASE's λ (warm, hybrid
without content), the borrowing knobs (neighbours, temperature; cold), shrinkage and the content
weight (warm), the extra content weight of borrowed items (cold). Every line printed is one
validation run; ``--stages`` and ``--start`` resume a search from earlier choices.

    MEDIAREC_KIT_DIR=/tmp/kithome/kit .venv/bin/python bench/tune_hybrid.py \\
        --data ../shared/data/ml-1m-llm --home /tmp/mr-eval-home
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any

from mediarec.datasets import load_dataset
from mediarec.datasets.base import Dataset
from mediarec.eval import evaluate
from mediarec.eval.splits import make_split
from mediarec.features import dataset_item_features
from mediarec.settings import load_settings

K = 20
SEED = 7
# (stage, validation split, option, values), searched in this order, each from the best so far.
GRID: list[tuple[str, str, str, list[Any]]] = [
    ("l2", "random", "l2", [200.0, 500.0, 1000.0, 2000.0]),
    ("borrow", "cold-items", "neighbours", [20, 50, 100, 200, 400]),
    ("borrow", "cold-items", "temperature", [0.02, 0.05, 0.1, 0.2, 0.5]),
    ("shrinkage", "random", "shrinkage", [0.0, 2.0, 5.0, 20.0]),
    ("content", "random", "content_weight", [0.0, 0.02, 0.05, 0.1, 0.2]),
    ("cold", "cold-items", "cold_content_weight", [0.0, 0.1, 0.3, 1.0]),
]
STAGES = "baselines,content-model,l2,borrow,shrinkage,content,cold,check"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/ml-1m-llm")
    ap.add_argument("--home", default=os.environ.get("MEDIAREC_HOME", "./mediarec-data"))
    ap.add_argument("--split", default=None, help="the outer split whose test side is dropped")
    ap.add_argument("--stages", default=STAGES, help=f"comma-separated subset of {STAGES}")
    ap.add_argument("--start", default="{}", help="JSON of hybrid options to start the search from")
    args = ap.parse_args()
    settings = load_settings(args.home)
    full = load_dataset(args.data)
    features, source = dataset_item_features(full, settings)
    outer = make_split(full, args.split or ("given" if full.has_folds else "temporal"))
    # The training side only, folds cleared so that the inner splits treat it as unsplit data.
    train_events = replace(outer.train, folds=outer.train.folds.copy())
    train_events.folds[:] = ""
    ds = Dataset(name=f"{full.name} [train side of {outer.name}]", items=full.items, events=train_events)
    assert list(ds.item_ids) == list(full.item_ids)
    print(f"features: {source}; validation on {len(train_events):,} training events", flush=True)

    def run(split: str, model: str, **params: Any) -> float:
        report = evaluate(
            ds, split, [model], k=K, seed=SEED, model_params={model: params}, item_features=features
        )
        value = report.rows[0].metrics["recall"]
        print(f"{split:10s} {model:8s} {params} Recall@{K}={value:.4f}", flush=True)
        return value

    def best(split: str, model: str, base: dict[str, Any], key: str, values: list[Any]) -> dict[str, Any]:
        scores = {v: run(split, model, **{**base, key: v}) for v in values}
        chosen = max(scores, key=lambda v: scores[v])
        print(f"  -> {key}={chosen}", flush=True)
        return {**base, key: chosen}

    stages = args.stages.split(",")
    if "baselines" in stages:
        for model in ("als", "itemknn-bm25", "ease"):
            run("random", model)
    content: dict[str, Any] = {}
    if "content-model" in stages:
        content = best("cold-items", "content", content, "center", [False, True])
        run("random", "content", **content)
    hybrid: dict[str, Any] = {"content_weight": 0.0, "shrinkage": 0.0, **json.loads(args.start)}
    for stage, split, key, values in GRID:
        if stage in stages:
            hybrid = best(split, "hybrid", hybrid, key, values)
    if "check" in stages:
        run("random", "hybrid", **hybrid)
        run("cold-items", "hybrid", **hybrid)
        als_core = {**hybrid, "core": "als"}
        run("random", "hybrid", **als_core)
        run("cold-items", "hybrid", **als_core)
    print(f"chosen content: {content}\nchosen hybrid: {hybrid}")


if __name__ == "__main__":
    sys.exit(main())

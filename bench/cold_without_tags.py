"""ml-latest-small with item text = title + genres only (no tags.csv tags), warm and cold.

tags.csv is written by the same users whose events the cold-item protocol holds out, so tag text can
echo the user a held-out movie is ranked for; this run measures content and hybrid without it.

    MEDIAREC_KIT_DIR=/tmp/kithome/kit .venv/bin/python bench/cold_without_tags.py --home /tmp/mr-eval-home
"""

from __future__ import annotations

import argparse
import os
import time

from mediarec.datasets import load_dataset
from mediarec.eval import evaluate, to_markdown
from mediarec.features import TextFeatureOptions, align, dataset_text_vectors
from mediarec.settings import load_settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/movielens-latest-small")
    ap.add_argument("--home", default=os.environ.get("MEDIAREC_HOME", "./mediarec-data"))
    args = ap.parse_args()
    settings = load_settings(args.home)
    ds = load_dataset(args.data)
    started = time.perf_counter()
    vectors = dataset_text_vectors(
        ds.items,
        "movielens-latest-small",
        settings,
        options=TextFeatureOptions(max_tags=0),
        progress=lambda done, total: print(
            f"{done}/{total} {time.perf_counter() - started:.0f}s", flush=True
        ),
    )
    features = align(vectors, ds.item_ids)
    for split in ("temporal", "cold-items"):
        report = evaluate(
            ds,
            split,
            ["random", "content", "hybrid"],
            k=20,
            item_features=features,
            features_source=f"{vectors.source} (title + genres, no tags)",
        )
        print(to_markdown(report), flush=True)


if __name__ == "__main__":
    main()

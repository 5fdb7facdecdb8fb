"""Content and hybrid on the real ML-1M split with MiniLM vectors of the LLM-written descriptions.

Embedding the 3,260 descriptions takes several minutes on 2 cores, so the vectors are cached
beside the kit (``<kit_dir>/../feature-cache``, or ``$MEDIAREC_FEATURE_CACHE``): computed once per
kit, i.e. once per CI run, and reused by every later test and session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediarec.settings import Settings
from tests.conftest import shared_dataset


@pytest.mark.heavy
@pytest.mark.shared_data
def test_hybrid_beats_als_warm_and_content_beats_random_cold(shared_kit: Settings) -> None:
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from mediarec.datasets import load_dataset
    from mediarec.eval import evaluate, to_markdown
    from mediarec.features import align, dataset_text_vectors

    ds = load_dataset(shared_dataset("ml-1m-llm"))
    cache = Path(
        os.environ.get("MEDIAREC_FEATURE_CACHE") or Path(shared_kit.kit_dir).parent / "feature-cache"
    )
    vectors = dataset_text_vectors(ds.items, "ml-1m-llm", shared_kit, cache_dir=cache, progress=print)
    features = align(vectors, ds.item_ids)
    assert vectors.vectors.shape == (3260, 384)  # every catalogue item has a description

    warm = evaluate(
        ds, "given", ["als", "hybrid"], k=20, item_features=features, features_source=vectors.source
    )
    cold = evaluate(
        ds,
        "cold-items",
        ["random", "content", "hybrid"],
        k=20,
        item_features=features,
        features_source=vectors.source,
    )
    print(to_markdown(warm), to_markdown(cold), sep="\n")
    r = {(rep.split, row.model): row.metrics["recall"] for rep in (warm, cold) for row in rep.rows}
    assert r["given", "als"] == pytest.approx(0.2487, abs=0.005)  # the known ALS figure on this split
    assert r["given", "hybrid"] > r["given", "als"] * 1.05
    assert r["cold-items", "random"] < 0.05
    assert r["cold-items", "content"] > 2 * r["cold-items", "random"]
    assert r["cold-items", "hybrid"] > r["cold-items", "content"]

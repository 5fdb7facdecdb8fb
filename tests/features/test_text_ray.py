"""Dataset text embedding on a real local Ray instance gives the local path's MiniLM vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediarec.features.text import TextFeatureOptions, dataset_text_vectors
from mediarec.records import ItemRecord
from mediarec.settings import Settings

pytest.importorskip("onnxruntime", reason="needs the understand extra: pip install 'mediarec[understand]'")

ITEMS = [
    ItemRecord("1", "Fresh pasta", metadata={"description": "Making tagliatelle from flour and eggs."}),
    ItemRecord("2", "Derby day", metadata={"genres": ["Sport"], "tags": ["football", "goal"]}),
    ItemRecord("3", "Tomatoes in pots", metadata={"tags": ["gardening"]}),
    ItemRecord("4", "Loops in Python"),
    ItemRecord("5", "Night trains across the Alps", metadata={"genres": ["Travel", "Documentary"]}),
]


@pytest.mark.heavy
def test_ray_and_local_text_vectors_are_the_same(
    ray_local: Any, shared_kit: Settings, tmp_path: Path
) -> None:
    options = TextFeatureOptions(chunk=2)  # three chunks, over two actors
    local = dataset_text_vectors(
        ITEMS, "toy", Settings(home=str(tmp_path / "a"), kit_dir=shared_kit.kit_dir), options=options
    )
    on_ray = dataset_text_vectors(
        ITEMS,
        "toy",
        Settings(home=str(tmp_path / "b"), kit_dir=shared_kit.kit_dir, ray_address="local"),
        options=options,
    )
    assert list(on_ray.item_ids) == list(local.item_ids) == ["1", "2", "3", "4", "5"]
    assert on_ray.source == local.source and on_ray.vectors.shape == (5, 384)
    np.testing.assert_allclose(on_ray.vectors, local.vectors, rtol=0, atol=1e-5)
    assert not list((tmp_path / "b" / "features").glob("*.partial.npy")), "the run completed its cache"

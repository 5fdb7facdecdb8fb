"""Item feature vectors for the recommenders: text vectors for datasets (cached on disk) and the
newest stored vectors of items in the store. Both return :class:`ItemVectors`, aligned by
:func:`align` with a matrix's item axis."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mediarec.features.base import ItemVectors, align
from mediarec.features.store import store_item_vectors
from mediarec.features.text import TextFeatureOptions, dataset_text_vectors, item_text

if TYPE_CHECKING:
    from mediarec.datasets.base import Dataset
    from mediarec.settings import Settings
    from mediarec.store import Store

__all__ = [
    "ItemVectors",
    "TextFeatureOptions",
    "align",
    "dataset_item_features",
    "dataset_text_vectors",
    "item_text",
    "store_item_vectors",
]


def dataset_item_features(
    dataset: Dataset,
    settings: Settings,
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, str]:
    """A (len(dataset.item_ids), dim) matrix for ``fit(..., item_features=...)`` and its source.

    With ``store``, the items' newest stored vectors (:func:`store_item_vectors`); otherwise MiniLM
    text vectors of the dataset's own item records (:func:`dataset_text_vectors`, cached under
    ``<home>/features``). Items without a vector get zeros. Raises ValueError when no item has one.
    """
    if store is not None:
        found = store_item_vectors(store, dataset.item_ids)
        if found is None:
            raise ValueError("no stored item has a fused or text vector; run `mediarec ingest PATH` first")
    else:
        found = dataset_text_vectors(dataset.items, dataset.name.split(" ")[0], settings, progress=progress)
        if not len(found.item_ids):
            raise ValueError(f"no item of {dataset.name} has a title, description, genres or tags to embed")
    matrix = align(found, dataset.item_ids)
    covered = int(np.any(matrix != 0, axis=1).sum())
    return matrix, f"{found.source}, {covered:,} of {len(dataset.item_ids):,} items"

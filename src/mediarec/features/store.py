"""Item vectors from the store: the newest ``fused`` (or ``text``) vector of each item, as the
ingest pipeline wrote them. This is what the engine feeds the content and hybrid models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mediarec.features.base import ItemVectors

if TYPE_CHECKING:
    from mediarec.store import Store

# The fused vector holds text + vision + audio; text alone is the fallback for a catalogue that was
# ingested before the fused stage existed, or whose items have no media (imported metadata only).
DEFAULT_EXTRACTORS = ("fused", "text")


def store_item_vectors(
    store: Store, item_ids: Sequence[str] | np.ndarray, extractors: Sequence[str] = DEFAULT_EXTRACTORS
) -> ItemVectors | None:
    """The newest vector of each of ``item_ids`` from the first of ``extractors`` that has any.

    One extractor for the whole catalogue, never a mix: fused and text vectors live in different
    spaces, so a model could not compare one item's fused vector with another's text vector. For
    the same reason only vectors of the most common width are kept (a model version with another
    width is a different space). Items without such a vector are left out; ``align`` gives them
    zeros, which the content models read as "nothing known". None when no item has a vector.
    """
    wanted = [str(i) for i in item_ids]
    internal = {item.id: ext for ext, item in store.items_by_external_ids(wanted).items()}
    for extractor in extractors:
        found = {
            internal[item]: vector
            for item, _ext, _payload, vector in store.latest_features([extractor])
            if vector is not None and item in internal
        }
        if not found:
            continue
        width = Counter(v.shape for v in found.values()).most_common(1)[0][0]
        ids = [i for i in wanted if i in found and found[i].shape == width]
        return ItemVectors(
            item_ids=np.asarray(ids, dtype=str),
            vectors=np.vstack([found[i] for i in ids]).astype(np.float32),
            source=f"stored {extractor} vectors",
        )
    return None

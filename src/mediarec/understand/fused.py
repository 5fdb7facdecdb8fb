"""Item-level vectors: one per modality (each stage's own) and one fused vector for recommenders.

The fused vector concatenates the L2-normalised modality vectors in a fixed layout, each scaled by
the square root of its weight, so that a dot product of two fused vectors is the weighted sum of
per-modality cosines. A modality the item lacks (vision on a podcast) is a block of zeros: it adds
nothing to any similarity rather than pretending to be an average item.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mediarec.understand.base import Extractor, ExtractorError, Feature, ItemContext


@dataclass(frozen=True)
class FusedOptions:
    # Relative weight per modality. Text carries titles, speech and on-screen words: the strongest
    # topical signal for most catalogues, so it leads.
    weights: dict[str, float] = field(default_factory=lambda: {"text": 0.5, "vision": 0.25, "audio": 0.25})


class FusedExtractor(Extractor):
    name = "fused"
    requires = ("text",)
    uses = ("vision", "audio")

    def __init__(self, dims: dict[str, int], options: FusedOptions | None = None) -> None:
        self.options = options or FusedOptions()
        self.dims = {m: dims[m] for m in ("text", "vision", "audio") if m in dims}
        self.dim_total = sum(self.dims.values())

    @property
    def version(self) -> str:
        layout = "+".join(f"{m}:{d}x{self.options.weights.get(m, 0):g}" for m, d in self.dims.items())
        return f"fused/1[{layout}]"

    def run(self, ctx: ItemContext) -> Feature:
        parts = []
        present = []
        for modality, dim in self.dims.items():
            feat = ctx.features.get(modality)
            block = np.zeros(dim, dtype=np.float32)
            if feat is not None and feat.vector is not None:
                vec = np.asarray(feat.vector, dtype=np.float32)
                if vec.shape != (dim,):
                    raise ExtractorError(f"{modality} vector has shape {vec.shape}, expected ({dim},)")
                norm = float(np.linalg.norm(vec))
                if norm > 0:
                    block = vec / norm * np.sqrt(self.options.weights.get(modality, 0.0))
                    present.append(modality)
            parts.append(block)
        fused = np.concatenate(parts).astype(np.float32)
        return self.feature({"modalities": present, "layout": self.dims}, fused)

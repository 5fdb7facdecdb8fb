"""What is on screen: ImageNet labels and a visual embedding per item, from the shots stage's keyframes.

EfficientNet-Lite0 runs once per keyframe, through onnxruntime (the kit builds the ONNX graph from
the published PyTorch weights at ``models install`` time, see ``mediarec.kit._effnet_onnx``; torch
is not needed). Its class probabilities give readable tags; its pooled 1280-d activations give the
embedding. At item level both are averaged over keyframes weighted by
shot duration, so a forty-second scene counts for more than a one-second cutaway.

Keyframes come from the thumbnails the shots stage wrote (one decode per frame, dropped after its
batch); a keyframe whose thumbnail is missing is decoded from the video instead. The OCR stage reads
its frames through the same :func:`keyframe_images`.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.kit import model_file
from mediarec.media import MediaError, iter_frames
from mediarec.media.paths import real_path
from mediarec.settings import Settings
from mediarec.understand.base import Extractor, ExtractorError, Feature, ItemContext

if TYPE_CHECKING:
    from PIL.Image import Image

MODEL = "efficientnet-lite0"
EMBED_DIM = 1280
# EfficientNet-Lite was trained on (x - 127) / 128 (its TFLite-friendly preprocessing), not on the
# ImageNet mean and standard deviation that other torchvision models use.
_PIXEL_MEAN, _PIXEL_SCALE = 127.0, 128.0
# A keyframe without a thumbnail is decoded from the video at this size: enough for the 224-px input
# after the centre crop, and far cheaper to convert than a 4K frame.
_DECODE_SIDE = 512


@dataclass(frozen=True)
class VisionOptions:
    """How the vision stage runs. The defaults match the model's ImageNet evaluation."""

    top_k: int = 5  # item-level labels kept
    keyframe_top_k: int = 3  # labels kept per keyframe
    # Keyframes per forward pass. Bounds memory on long videos: 16 inputs are 9.6 MB, their
    # activations a few hundred MB at peak; larger batches are barely faster on CPU.
    batch_size: int = 16
    image_size: int = 224  # the model's training resolution
    # Side of the centre square kept, as a fraction of the shorter side, before resizing: the model's
    # evaluation crop (224 of 256). 1.0 keeps the whole height of a landscape frame.
    crop_fraction: float = 0.875
    threads: int = 0  # onnxruntime intra-op threads; 0: $OMP_NUM_THREADS (the pipeline's share) or all cores
    max_keyframes: int = 0  # 0: every shot's keyframe; else at most this many, spread evenly in time

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.keyframe_top_k < 1:
            raise ValueError("top_k and keyframe_top_k must be at least 1")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0.1 <= self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must lie in 0.1..1, got {self.crop_fraction}")
        if self.image_size < 32 or self.threads < 0 or self.max_keyframes < 0:
            raise ValueError("image_size must be at least 32; threads and max_keyframes not negative")


# -- keyframes (shared with the OCR stage) ----------------------------------------------------


@dataclass(frozen=True)
class Keyframe:
    shot: int  # the shot's index
    time: float  # seconds from the first video frame
    weight: float  # the shot's duration in seconds: how much of the item this frame stands for
    path: str | None  # the thumbnail; None when the shots stage wrote none


def keyframes(ctx: ItemContext, limit: int = 0) -> list[Keyframe]:
    """The item's keyframes in time order, from the shots stage; at most ``limit`` (0: all)."""
    shots = ctx.require("shots").payload.get("shots") or []
    frames = []
    for position, s in enumerate(shots):
        start, end = float(s.get("start", 0.0)), float(s.get("end", 0.0))
        time = float(s.get("keyframe_time", (start + end) / 2))
        # Stored relative to the home (mediarec.media.paths), so that a moved home still finds it.
        found = real_path(s.get("keyframe_path") or None, ctx.home)
        path = None if found is None else str(found)
        frames.append(Keyframe(int(s.get("index", position)), time, max(end - start, 0.0), path))
    if not frames:
        # No shot at all (a one-frame stream, a detector that gave up): the middle frame stands for it.
        frames = [Keyframe(0, max(ctx.info.duration, 0.0) / 2, 1.0, None)]
    frames.sort(key=lambda k: k.time)
    if limit and len(frames) > limit:
        picks = np.unique(np.linspace(0, len(frames) - 1, limit).round().astype(int))
        frames = [frames[int(i)] for i in picks]
    if sum(k.weight for k in frames) <= 0:  # zero-length shots only: count them equally
        frames = [dataclasses.replace(k, weight=1.0) for k in frames]
    return frames


def keyframe_images(
    ctx: ItemContext, frames: Sequence[Keyframe], *, from_video: bool = False, max_side: int | None = None
) -> Iterator[tuple[Keyframe, Image]]:
    """Each keyframe's RGB picture, in the order given (ascending time): its thumbnail, or with
    ``from_video`` (and for any keyframe without a thumbnail) the frame decoded from the file, scaled
    down to ``max_side``. Pictures are made one at a time, so the caller decides how many live.

    When the video cannot be decoded, keyframes with a thumbnail fall back to it; the others fail.
    """
    from PIL import Image as PILImage

    def on_disk(k: Keyframe) -> bool:
        return k.path is not None and os.path.isfile(k.path)

    if any(b.time < a.time for a, b in pairwise(frames)):
        raise ValueError("keyframes must be in ascending time")
    # Decided once: a thumbnail appearing or vanishing mid-run must not shift frames against times.
    decode = [from_video or not on_disk(k) for k in frames]
    times = [k.time for k, d in zip(frames, decode, strict=True) if d]
    # iter_frames yields in ascending time, the order of ``frames``: one forward pass over the file.
    video = iter_frames(ctx.path, times, max_side=max_side) if times else None
    video_error: MediaError | None = None
    for k, wanted in zip(frames, decode, strict=True):
        image: Any = None
        if video is not None and wanted:
            try:
                _, image = next(video)
            except MediaError as exc:  # the stream is spent; thumbnails carry on where they can
                video, video_error = None, exc
        if image is None:
            if not on_disk(k):
                why = video_error or "no thumbnail and the video was not decoded"
                raise ExtractorError(f"keyframe of shot {k.shot} at {k.time:.2f} s: {why}")
            assert k.path is not None
            try:
                with PILImage.open(k.path) as thumb:
                    image = thumb.convert("RGB")
            except OSError as exc:
                raise ExtractorError(f"keyframe thumbnail {k.path}: {exc}") from exc
        yield k, image


# -- the stage ---------------------------------------------------------------------------------


def _short_name(display_name: str) -> str:
    # ImageNet display names list synonyms ("tabby, tabby cat"); the first reads best as a tag.
    return display_name.split(",")[0].strip()


def _top(scores: np.ndarray, names: Sequence[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"name": names[i], "score": round(float(scores[i]), 4)} for i in order]


class VisionExtractor(Extractor):
    name = "vision"
    requires = ("shots",)
    needs_video = True
    dim = EMBED_DIM

    def __init__(self, settings: Settings, options: VisionOptions | None = None) -> None:
        self.settings = settings
        self.options = options or VisionOptions()
        self._model: Any = None  # loaded on first run, in the worker process that runs it
        self._names: list[str] = []
        self._merge: np.ndarray | None = None

    @property
    def version(self) -> str:
        return f"{MODEL}/1"

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to workers as settings and options only; each loads its own model.
        return {**self.__dict__, "_model": None, "_names": [], "_merge": None}

    def _load(self) -> None:
        if self._model is not None:
            return
        from mediarec.kit.onnx_session import onnx_session

        weights = model_file(MODEL, self.settings.home_path, self.settings)
        graph: Path | bytes = weights
        if weights.suffix == ".pth":  # a vision_model folder holding only the PyTorch weights
            from mediarec.kit._effnet_onnx import build

            graph = build(weights.read_bytes())
        model = onnx_session(graph, self.options.threads)
        with Path(weights.parent / "imagenet_class_map.csv").open(newline="", encoding="utf-8") as fh:
            classes = [_short_name(row["display_name"]) for row in csv.DictReader(fh)]
        # A few short names repeat ("crane" the bird and the machine): their scores are summed, so a
        # tag appears once with the probability of either meaning.
        self._names = list(dict.fromkeys(classes))
        column = {n: i for i, n in enumerate(self._names)}
        merge = np.zeros((len(classes), len(self._names)), dtype=np.float32)
        merge[np.arange(len(classes)), [column[n] for n in classes]] = 1.0
        self._merge = merge
        self._model = model

    def _tensor(self, image: Image) -> np.ndarray:
        from PIL import Image as PILImage

        side = min(image.size) * self.options.crop_fraction
        left, top = (image.width - side) / 2, (image.height - side) / 2
        size = self.options.image_size
        square = image.resize(
            (size, size), PILImage.Resampling.BICUBIC, box=(left, top, left + side, top + side)
        )
        x = (np.asarray(square, dtype=np.float32) - _PIXEL_MEAN) / _PIXEL_SCALE
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def _forward(self, batch: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(named-class probabilities, pooled embeddings) for a batch of CHW input arrays."""
        probs, pooled = self._model.run(["probabilities", "embedding"], {"pixels": np.stack(batch)})
        assert self._merge is not None
        return np.asarray(probs) @ self._merge, np.asarray(pooled)

    def run(self, ctx: ItemContext) -> Feature:
        self._load()
        o = self.options
        frames = keyframes(ctx, o.max_keyframes)
        total = sum(k.weight for k in frames)
        label_sum = np.zeros(len(self._names), dtype=np.float64)
        embed_sum = np.zeros(EMBED_DIM, dtype=np.float64)
        per_frame: list[dict[str, Any]] = []
        batch: list[np.ndarray] = []
        batch_frames: list[Keyframe] = []

        def flush() -> None:
            nonlocal label_sum, embed_sum
            probs, pooled = self._forward(batch)
            for k, p, e in zip(batch_frames, probs, pooled, strict=True):
                w = k.weight / total
                label_sum += w * p
                embed_sum += w * e
                labels = _top(p, self._names, o.keyframe_top_k)
                per_frame.append({"time": round(k.time, 3), "shot": k.shot, "labels": labels})
            batch.clear()
            batch_frames.clear()

        for k, image in keyframe_images(ctx, frames, max_side=_DECODE_SIDE):
            batch.append(self._tensor(image))
            batch_frames.append(k)
            if len(batch) == o.batch_size:
                flush()
        if batch:
            flush()
        payload = {"labels": _top(label_sum, self._names, o.top_k), "keyframes": per_frame}
        return self.feature(payload, embed_sum.astype(np.float32))

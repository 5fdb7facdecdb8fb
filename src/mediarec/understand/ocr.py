"""On-screen words (titles, captions, signs, slides) read from each shot's keyframe with RapidOCR.

The 320-pixel thumbnails the shots stage keeps lose subtitle-sized words (5 px high there) and the
gaps between words, so by default each keyframe is decoded again from the video, at up to
``max_side`` pixels; the detector still works on a copy scaled to ``det_side`` (cheap), while the
recogniser reads each line from the sharp full-size frame.

Text that stays on screen across cuts (a caption, a channel logo) is kept once: a line is dropped
when the previous keyframe already held the same words, so ``lines`` lists where text appears.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from mediarec.kit import model_dir
from mediarec.settings import Settings
from mediarec.understand.base import Extractor, Feature, ItemContext
from mediarec.understand.vision import keyframe_images, keyframes

MODEL = "rapidocr"
_DET, _CLS, _REC = (
    "ch_PP-OCRv4_det_infer.onnx",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "ch_PP-OCRv4_rec_infer.onnx",
)


@dataclass(frozen=True)
class OCROptions:
    """How the OCR stage runs. The defaults favour precision: video frames are full of texture that a
    recogniser will happily read as letters."""

    min_score: float = 0.6  # recogniser confidence below which a line is dropped (RapidOCR's own: 0.5)
    min_chars: int = 2  # lines with fewer non-space characters are mostly texture, not text
    # Lines taller than this fraction of the frame's shorter side are dropped: a bar and a disc get
    # read as "10", while even title cards seldom set words a third of the screen high.
    max_line_height: float = 0.4
    # Decode keyframes from the video rather than reading the thumbnails; costs one seek per shot.
    full_resolution: bool = True
    max_side: int = 1920  # frames are scaled down to this: 4K captions are still legible at 1080p
    # Longer side of the copy the detector sees; recognition still reads lines from the full frame.
    # RapidOCR's "min" mode scales the shorter side up to 736 (1308x736 for 1080p) and its "max"
    # mode ignores the limit (up to 2000 px), both several times slower for words this size.
    det_side: int = 736
    use_cls: bool = True  # the angle classifier turns upside-down lines; cheap next to recognition
    same_text_ratio: float = 0.9  # lines at least this similar (0..1, case-blind) count as the same text
    threads: int = 0  # onnxruntime intra-op threads; 0: $OMP_NUM_THREADS when set, else all cores
    max_keyframes: int = 0  # 0: every shot's keyframe; else at most this many, spread evenly in time

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0 or not 0.0 < self.same_text_ratio <= 1.0:
            raise ValueError("min_score must lie in 0..1 and same_text_ratio in (0, 1]")
        if self.max_side < 32 or self.det_side < 32:
            raise ValueError("max_side and det_side must be at least 32 pixels")
        if not 0.0 < self.max_line_height <= 1.0:
            raise ValueError(f"max_line_height must lie in (0, 1], got {self.max_line_height}")
        if self.min_chars < 1 or self.threads < 0 or self.max_keyframes < 0:
            raise ValueError("min_chars must be at least 1; threads and max_keyframes not negative")


def clean_text(text: str) -> str:
    return " ".join(str(text).split())


def _similar(a: str, b: str, ratio: float) -> bool:
    if a == b:
        return True
    # The recogniser misreads a letter or two between frames of the same caption ("0" for "O").
    return ratio < 1.0 and SequenceMatcher(None, a, b, autojunk=False).ratio() >= ratio


def dedupe_lines(frames: list[list[dict[str, Any]]], ratio: float = 0.9) -> list[dict[str, Any]]:
    """Lines of consecutive keyframes (each a list of ``{"text", ...}``), without the lines whose text the
    previous keyframe also showed. Text that leaves the screen and returns later is listed again."""
    out: list[dict[str, Any]] = []
    previous: list[str] = []
    for lines in frames:
        current = [line["text"].casefold() for line in lines]
        out += [
            line
            for line, key in zip(lines, current, strict=True)
            if not any(_similar(key, seen, ratio) for seen in previous)
        ]
        previous = current
    return out


def _line_height(box: Any) -> float:
    """The shorter side of a detected quadrilateral (four corners, clockwise): the line's height."""
    (x0, y0), (x1, y1), (x2, y2) = box[0], box[1], box[2]
    return float(min(np.hypot(x1 - x0, y1 - y0), np.hypot(x2 - x1, y2 - y1)))


def _default_threads() -> int:
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))  # the pipeline's per-worker share
    except (KeyError, ValueError):
        return -1  # onnxruntime's default: one thread per physical core


def _limit_detection(engine: Any, side: int) -> Any:
    """Make RapidOCR's detector scale frames so their longer side is at most ``side``. RapidOCR
    1.4 picks the "max" limit from the frame size (960, 1500 or 2000 px) whatever it is told, so its
    instance method is replaced; a version where that fails marks the engine as unlimited."""
    try:
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        det = engine.text_det
        fixed = DetPreProcess(side, "max", det.mean, det.std)
        det.get_preprocess = lambda _max_wh: fixed
        engine._mediarec_det_limited = True
    except (ImportError, AttributeError, TypeError):
        engine._mediarec_det_limited = False
    return engine


class OCRExtractor(Extractor):
    name = "ocr"
    requires = ("shots",)
    needs_video = True

    def __init__(self, settings: Settings, options: OCROptions | None = None) -> None:
        self.settings = settings
        self.options = options or OCROptions()
        self._engine: Any = None  # loaded on first run, in the worker process that runs it

    @property
    def version(self) -> str:
        return "rapidocr-ppocr/1"

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to workers as settings and options only; each loads its own sessions.
        return {**self.__dict__, "_engine": None}

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            folder = model_dir(MODEL, self.settings.home_path, self.settings)
            threads = self.options.threads or _default_threads()
            engine = RapidOCR(
                det_model_path=str(folder / _DET),
                cls_model_path=str(folder / _CLS),
                rec_model_path=str(folder / _REC),
                det_limit_side_len=self.options.det_side,
                det_limit_type="max",
                text_score=self.options.min_score,
                intra_op_num_threads=threads,
                inter_op_num_threads=1,  # the models run sequentially; a second pool only competes
            )
            self._engine = _limit_detection(engine, self.options.det_side)
        return self._engine

    def read(self, image: Any) -> list[tuple[str, float]]:
        """(text, score) of each line in an RGB picture (PIL image), top to bottom, that passes the
        options' filters."""
        engine = self._load()
        side = self.options.det_side
        if not getattr(engine, "_mediarec_det_limited", False) and max(image.size) > side:
            image = image.copy()
            image.thumbnail((side, side))  # the detector could not be limited: read a smaller frame
        result, _ = engine(image, use_cls=self.options.use_cls)
        o = self.options
        tallest = o.max_line_height * min(image.size)
        lines = []
        for box, raw, score in result or []:
            text = clean_text(raw)
            legible = float(score) >= o.min_score and len(text.replace(" ", "")) >= o.min_chars
            if legible and _line_height(box) <= tallest:
                lines.append((text, float(score)))
        return lines

    def run(self, ctx: ItemContext) -> Feature:
        o = self.options
        self._load()
        frames = keyframes(ctx, o.max_keyframes)
        per_frame: list[list[dict[str, Any]]] = []
        images = keyframe_images(ctx, frames, from_video=o.full_resolution, max_side=o.max_side)
        for k, image in images:
            found = self.read(image)
            del image  # decode once, drop: a 1080p frame is 6 MB
            per_frame.append(
                [
                    {"time": round(k.time, 3), "shot": k.shot, "text": t, "score": round(s, 4)}
                    for t, s in found
                ]
            )
        lines = dedupe_lines(per_frame, o.same_text_ratio)
        unique: dict[str, str] = {}
        for line in lines:
            unique.setdefault(line["text"].casefold(), line["text"])
        return self.feature({"lines": lines, "text": " ".join(unique.values())})

"""Frames at chosen times, and one JPEG thumbnail per shot to stand for it.

Frames are decoded, sampled and dropped: :func:`iter_frames` holds at most two decoded frames, seeks
when the next time is far ahead and otherwise decodes forward, which is cheaper than seeking back to
a keyframe for times a moment apart.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from mediarec.media._open import check_file, decode, import_av, open_container
from mediarec.media.errors import MediaError, missing_extra
from mediarec.media.probe import main_video_stream
from mediarec.records import Shot

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("mediarec.media")
PathLike = str | os.PathLike[str]
# Frame timestamps are rounded to the stream's time base; a frame this close to a time counts as at it.
_TIME_TOLERANCE_S = 0.001
# Decode forward when the next time is at most this far ahead; beyond it, seek. Typical encoders put a
# keyframe every 2-10 s, so a seek lands up to that far back and decodes the same frames anyway.
_SEEK_AHEAD_S = 3.0


@dataclass(frozen=True)
class KeyframeOptions:
    """Thumbnail size and quality, and how hard to look for a sharp frame."""

    max_side: int = 320  # thumbnails are scaled down (never up) to fit this many pixels a side
    # Frames tried per shot, spread over its middle; the sharpest is kept, which skips motion blur and
    # the last frames of a fade. 1 takes the middle frame and decodes least.
    samples: int = 3
    quality: int = 85  # JPEG quality, 1-95

    def __post_init__(self) -> None:
        if self.max_side < 16:
            raise ValueError(f"max_side must be at least 16 pixels, got {self.max_side}")
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")
        if not 1 <= self.quality <= 95:
            raise ValueError(f"quality must lie in 1..95, got {self.quality}")


def extract_keyframes(
    path: str | os.PathLike[str],
    shots: Sequence[Shot],
    out_dir: str | os.PathLike[str],
    options: KeyframeOptions | None = None,
) -> list[Shot]:
    """Save ``shot_0000.jpg``... in ``out_dir``, one per shot, and return the shots with
    ``keyframe_path`` and ``keyframe_time`` set to the frame chosen."""
    opts = options or KeyframeOptions()
    _import_pil()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = sorted((t, i) for i, shot in enumerate(shots) for t in _sample_times(shot, opts.samples))
    best: dict[int, tuple[float, float, Any]] = {}  # shot position -> (sharpness, time, image)
    result = list(shots)

    def save(position: int) -> None:
        _, time, image = best.pop(position)
        shot = shots[position]
        target = out / f"shot_{shot.index:04d}.jpg"
        partial = target.with_name(target.name + ".part")
        image.save(partial, format="JPEG", quality=opts.quality)
        os.replace(partial, target)  # a crash never leaves a half-written thumbnail under the real name
        result[position] = dataclasses.replace(shot, keyframe_time=time, keyframe_path=str(target))

    frames = iter_frames(path, [t for t, _ in samples], max_side=opts.max_side)
    for (time, position), (_, image) in zip(samples, frames, strict=True):
        score = _sharpness(image) if opts.samples > 1 else 0.0
        if position not in best or score > best[position][0]:
            best[position] = (score, time, image)
        # Samples arrive in time order and shots do not overlap, so earlier shots are complete.
        for done in [p for p in best if shots[p].end <= time and p != position]:
            save(done)
    for position in list(best):
        save(position)
    return result


@overload
def iter_frames(
    path: PathLike, times: Iterable[float], *, max_side: int | None = ..., as_array: Literal[False] = ...
) -> Iterator[tuple[float, Image]]: ...
@overload
def iter_frames(
    path: PathLike, times: Iterable[float], *, max_side: int | None = ..., as_array: Literal[True]
) -> Iterator[tuple[float, np.ndarray]]: ...
def iter_frames(
    path: str | os.PathLike[str],
    times: Iterable[float],
    *,
    max_side: int | None = None,
    as_array: bool = False,
) -> Iterator[tuple[float, Image]] | Iterator[tuple[float, np.ndarray]]:
    """``(time, frame)`` for each time, in ascending order of time: the frame on screen at that moment.

    Times are seconds from the first video frame (as in :class:`~mediarec.records.Shot`); times past the
    end get the last frame. Frames are RGB, scaled to the display aspect ratio and, with ``max_side``,
    down to fit it; a PIL image, or a ``(height, width, 3)`` uint8 array with ``as_array``.
    """
    targets = sorted(float(t) for t in times)
    if not targets:
        return
    if not as_array:
        _import_pil()
    checked = check_file(path)
    av = import_av()
    container = open_container(checked)
    try:
        stream = main_video_stream(av, container)
        if stream is None:
            raise MediaError(checked.path, "no video stream")
        size = _output_size(stream, max_side)
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        reader = _Reader(av, container, stream, origin)
        for t in targets:
            frame = reader.frame_at(origin + max(t, 0.0))
            if frame is None:
                raise MediaError(checked.path, f"no decodable video frame at or before {t:.2f} s")
            if as_array:
                yield t, frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
            else:
                yield t, frame.to_image(width=size[0], height=size[1])
    finally:
        container.close()


class _Reader:
    """Walks one video stream forward, seeking only for long jumps; holds the current and next frame."""

    def __init__(self, av: Any, container: Any, stream: Any, origin: float) -> None:
        self.av, self.container, self.stream = av, container, stream
        rate = stream.average_rate or stream.guessed_rate
        self.step = 1.0 / float(rate) if rate else 0.04
        self.frames = decode(av, container, stream, _log_problem)
        self.current: tuple[float, Any] | None = None  # last frame at or before the last target
        self.ahead: tuple[float, Any] | None = None  # first frame after it, already decoded
        self.origin = self.position = origin  # position: time of the newest decoded frame
        self.untimed = 0
        # Raw streams have no timestamps to seek by, and a failed seek can leave the demuxer stuck:
        # after either, only decoding forward is trusted. The first frame tells which kind this is.
        self.seekable = True
        self.ahead = self._next()

    def frame_at(self, target: float) -> Any:
        behind = self.current is not None and target < self.current[0] - _TIME_TOLERANCE_S
        if self.seekable and (behind or target - self.position > _SEEK_AHEAD_S):
            self._seek(target)
        while self.ahead is None or self.ahead[0] <= target + _TIME_TOLERANCE_S:
            if self.ahead is not None:
                self.current = self.ahead
            self.ahead = self._next()
            if self.ahead is None:
                break
        if self.current is not None:
            return self.current[1]
        return self.ahead[1] if self.ahead is not None else None  # a time before the first frame

    def _seek(self, target: float) -> None:
        try:
            self.container.seek(int(target / self.stream.time_base), stream=self.stream)
        except self.av.error.FFmpegError:
            self.seekable = False
            return
        self.current = self.ahead = None
        self.frames = decode(self.av, self.container, self.stream, _log_problem)

    def _next(self) -> tuple[float, Any] | None:
        frame = next(self.frames, None)
        if frame is None:
            return None
        if frame.time is None:
            self.seekable = False
            self.untimed += 1  # count frames instead: frame n is shown at n / fps
            self.position = self.origin + (self.untimed - 1) * self.step
        else:
            self.position = float(frame.time)
        return self.position, frame


def _log_problem(kind: str, message: str) -> None:
    # Frame sampling returns the nearest decodable frame; damage is the audio report's and the
    # prober's to raise, so here it is only logged.
    log.debug("%s: %s", kind, message)


def _output_size(stream: Any, max_side: int | None) -> tuple[int, int]:
    ctx = stream.codec_context
    width, height = ctx.width, ctx.height
    sar = ctx.sample_aspect_ratio
    if sar and sar != 1:
        width = round(width * float(sar))  # anamorphic video: show it at its display shape
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = round(width * scale), round(height * scale)
    # Even sizes keep the scaler away from chroma rounding problems with 4:2:0 sources.
    return max(2, width - width % 2), max(2, height - height % 2)


def _sample_times(shot: Shot, samples: int) -> list[float]:
    frames = shot.end_frame - shot.start_frame
    if frames <= 0 or shot.end <= shot.start:
        return [shot.keyframe_time]
    per_frame = (shot.end - shot.start) / frames
    if samples == 1:
        picks = [shot.start_frame + (frames - 1) // 2]
    else:
        n = min(samples, frames)
        picks = sorted({shot.start_frame + (k + 1) * frames // (n + 1) for k in range(n)})
    return [shot.start + (f - shot.start_frame) * per_frame for f in picks]


def _sharpness(image: Any) -> float:
    """Variance of the Laplacian of the grey image: high for crisp edges, low for blur and flat fades."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1]
    )
    return float(lap.var())


def _import_pil() -> None:
    try:
        import PIL.Image  # noqa: F401
    except ImportError as exc:
        raise missing_extra("Pillow", exc) from exc

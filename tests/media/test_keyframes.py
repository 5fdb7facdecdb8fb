"""Keyframes and frame sampling: one thumbnail per shot, from inside the shot, and exact frames at times."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="media tests need the `media` extra (PyAV)")
PIL_Image = pytest.importorskip("PIL.Image", reason="media tests need the `media` extra (Pillow)")

from mediarec.media import KeyframeOptions, MediaError, extract_keyframes, iter_frames  # noqa: E402
from mediarec.records import Shot  # noqa: E402
from tests.media.fixtures import CUT_FRAMES, CUTS_TOTAL_FRAMES, FPS, Case  # noqa: E402


def shots_from_cuts() -> list[Shot]:
    # Built from the known cuts rather than detected, so these tests do not depend on the detector.
    bounds = (0, *CUT_FRAMES, CUTS_TOTAL_FRAMES)
    return [
        Shot(i, a / FPS, b / FPS, start_frame=a, end_frame=b, keyframe_time=(a + b) // 2 / FPS)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


@pytest.mark.parametrize("samples", [1, 3])
def test_one_jpeg_per_shot_inside_the_shot(cuts_video: Path, tmp_path: Path, samples: int) -> None:
    shots = shots_from_cuts()
    out = tmp_path / "thumbs"
    result = extract_keyframes(cuts_video, shots, out, KeyframeOptions(samples=samples))
    assert len(result) == len(shots)
    assert sorted(p.name for p in out.iterdir()) == [f"shot_{i:04d}.jpg" for i in range(len(shots))]
    thumbs = []
    for before, after in zip(shots, result, strict=True):
        assert dataclasses.replace(after, keyframe_time=0, keyframe_path=None) == dataclasses.replace(
            before, keyframe_time=0, keyframe_path=None
        )
        assert after.start <= after.keyframe_time < after.end
        assert after.keyframe_path == str(out / f"shot_{before.index:04d}.jpg")
        with PIL_Image.open(after.keyframe_path) as image:
            assert image.format == "JPEG"
            assert image.size == (320, 240)  # already within 320 px: never scaled up
            thumbs.append(np.asarray(image.convert("RGB")))
    # Each thumbnail is the frame shown at its time, and the shots' thumbnails differ from each other.
    frames = dict(iter_frames(cuts_video, [s.keyframe_time for s in result], as_array=True))
    for shot, thumb in zip(result, thumbs, strict=True):
        assert diff(thumb, frames[shot.keyframe_time]) < 6  # only JPEG loss
    for a in range(len(thumbs)):
        for b in range(a + 1, len(thumbs)):
            assert diff(thumbs[a], thumbs[b]) > 15


def test_max_side_is_respected(cuts_video: Path, tmp_path: Path) -> None:
    options = KeyframeOptions(max_side=100, samples=1)
    result = extract_keyframes(cuts_video, shots_from_cuts(), tmp_path, options)
    for shot in result:
        assert shot.keyframe_path is not None
        with PIL_Image.open(shot.keyframe_path) as image:
            assert max(image.size) <= 100
            assert image.size == (100, 74)  # 4:3 kept, rounded to even sizes


def test_iter_frames_lands_on_the_right_side_of_a_cut(cuts_video: Path) -> None:
    cut = CUT_FRAMES[0]
    times = [(cut - 2) / FPS, (cut - 1) / FPS, cut / FPS]
    frames = [f for _, f in iter_frames(cuts_video, times, as_array=True, max_side=160)]
    assert diff(frames[0], frames[1]) < diff(frames[1], frames[2])
    assert diff(frames[1], frames[2]) > 15


def test_seeking_gives_the_same_frames_as_decoding_forward(cuts_video: Path) -> None:
    times = [0.0, 0.5, 3.3, 6.9, 2.0]  # given out of order; 3.3 -> 6.9 is far enough to seek
    seeked = list(iter_frames(cuts_video, times, as_array=True))
    assert [t for t, _ in seeked] == sorted(times)
    every = [i / FPS for i in range(CUTS_TOTAL_FRAMES)]
    forward = dict(iter_frames(cuts_video, every, as_array=True))
    for t, frame in seeked:
        reference = forward[round(t * FPS) / FPS]
        assert np.array_equal(frame, reference), f"frame at {t} s differs after seeking"


def test_times_past_the_end_give_the_last_frame(cuts_video: Path) -> None:
    (_, last), (_, beyond) = iter_frames(cuts_video, [(CUTS_TOTAL_FRAMES - 1) / FPS, 99.0], as_array=True)
    assert np.array_equal(last, beyond)


def test_pil_images_by_default(cuts_video: Path) -> None:
    [(t, image)] = iter_frames(cuts_video, [1.0], max_side=64)
    assert t == 1.0 and image.size == (64, 48) and image.mode == "RGB"


@pytest.mark.parametrize("name", ["mpeg4_avi", "vp9_opus_webm", "raw_h264_no_duration", "name_with_unicode"])
def test_other_codecs_and_names(corpus: dict[str, Case], tmp_path: Path, name: str) -> None:
    shot = Shot(index=0, start=0.0, end=2.0, start_frame=0, end_frame=50, keyframe_time=1.0)
    [result] = extract_keyframes(corpus[name].path, [shot], tmp_path)
    assert result.keyframe_path is not None and Path(result.keyframe_path).stat().st_size > 0


def test_no_video_stream(corpus: dict[str, Case], tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        extract_keyframes(corpus["audio_only"].path, shots_from_cuts(), tmp_path)

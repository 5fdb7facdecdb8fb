"""Shot detection: cuts found within two frames of where they were made, one shot when there is none."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

pytest.importorskip("av", reason="media tests need the `media` extra (PyAV)")
pytest.importorskip("scenedetect", reason="media tests need the `media` extra (PySceneDetect)")

from mediarec.media import DETECTORS, MediaError, ShotOptions, detect_shots, detector_version
from tests.media.fixtures import CUT_FRAMES, CUTS_TOTAL_FRAMES, FPS, Case, make_cuts_video, within


def assert_cuts_match(shots: list, expected: tuple[int, ...] = CUT_FRAMES) -> None:
    found = [s.start_frame for s in shots[1:]]
    assert len(found) == len(expected), f"cuts at {found}, made at {expected}"
    errors = [f - e for f, e in zip(found, expected, strict=True)]
    assert max(map(abs, errors)) <= 2, f"cuts at {found}, made at {expected}"


def test_default_detector_finds_the_cuts(cuts_video: Path) -> None:
    shots = detect_shots(cuts_video)
    assert_cuts_match(shots)
    assert [s.index for s in shots] == list(range(len(shots)))
    assert shots[0].start_frame == 0 and shots[0].start == 0.0
    assert shots[-1].end_frame == CUTS_TOTAL_FRAMES
    assert shots[-1].end == pytest.approx(CUTS_TOTAL_FRAMES / FPS)
    for shot, following in itertools.pairwise(shots):
        assert shot.end_frame == following.start_frame  # contiguous: every frame is in exactly one shot
    for shot in shots:
        assert shot.start == pytest.approx(shot.start_frame / FPS)
        assert shot.end == pytest.approx(shot.end_frame / FPS)
        assert shot.start <= shot.keyframe_time < shot.end
        assert shot.keyframe_path is None


@pytest.mark.parametrize("detector", DETECTORS)
def test_every_detector_finds_the_cuts(cuts_video: Path, detector: str) -> None:
    assert_cuts_match(detect_shots(cuts_video, ShotOptions(detector=detector)))


def test_large_frames_are_downscaled_and_still_cut_right(tmp_path: Path) -> None:
    video = make_cuts_video(tmp_path / "large.mp4", size="640x360", audio=False)
    assert_cuts_match(detect_shots(video, ShotOptions(analysis_width=128)))


ONE_SHOT = [
    "video_only", "mpeg4_avi", "mjpeg_avi", "vp9_opus_webm", "name_with_colon", "name_with_unicode",
]
UNUSABLE = [
    "audio_only", "wav_named_mp4", "text_named_mp4", "zero_bytes", "directory", "fifo", "symlink_loop",
    "truncated_1k_faststart",
]


@pytest.mark.parametrize("name", ONE_SHOT)
def test_a_video_without_cuts_is_one_shot(corpus: dict[str, Case], name: str) -> None:
    shots = detect_shots(corpus[name].path)
    assert len(shots) == 1
    assert (shots[0].start_frame, shots[0].end_frame) == (0, 2 * FPS)
    assert shots[0].end == pytest.approx(2.0)


def test_max_seconds_stops_early(cuts_video: Path) -> None:
    shots = detect_shots(cuts_video, ShotOptions(max_seconds=2.0))
    assert shots[-1].end <= 2.1
    assert [s.start_frame for s in shots[1:]] == [pytest.approx(CUT_FRAMES[0], abs=2)]


@pytest.mark.parametrize("name", UNUSABLE)
def test_unusable_inputs_raise_media_error(corpus: dict[str, Case], name: str) -> None:
    with pytest.raises(MediaError):
        within(20, lambda: detect_shots(corpus[name].path))


def test_truncated_video_gives_the_shots_it_can_decode(corpus: dict[str, Case]) -> None:
    [shot] = within(20, lambda: detect_shots(corpus["truncated_half_faststart"].path))
    assert 0 < shot.end < 2.0


def test_raw_stream_without_timestamps_is_refused_with_the_fix(corpus: dict[str, Case]) -> None:
    with pytest.raises(MediaError, match="without timestamps; put it in a container"):
        detect_shots(corpus["raw_h264_no_duration"].path)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="detector"):
        ShotOptions(detector="magic")


def test_detector_version_names_the_library_and_settings() -> None:
    version = detector_version()
    assert version.startswith("pyscenedetect-") and "adaptive" in version and "threshold=" in version
    assert detector_version(ShotOptions(threshold=2.5)) != version

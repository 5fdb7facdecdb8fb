"""probe() over the broken-file corpus: each file gives a MediaInfo or a MediaError with a reason, quickly."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("av", reason="media tests need the `media` extra (PyAV)")

from mediarec.media import MediaError, MissingExtraError, ProbeOptions, content_hash, probe
from tests.media.fixtures import Case, within

CASES = [
    "zero_bytes", "truncated_half", "truncated_1k", "truncated_half_faststart", "truncated_1k_faststart",
    "text_named_mp4", "wav_named_mp4", "mp3_named_mp4", "audio_only", "video_only", "zero_duration",
    "no_streams", "long_silence", "mpeg4_avi", "mjpeg_avi", "vp9_opus_webm", "flac", "ogg_vorbis",
    "raw_h264_no_duration", "still_image", "playlist", "name_with_space", "name_with_unicode",
    "name_with_newline", "name_with_colon", "symlink_loop", "broken_symlink", "directory", "fifo",
]


def test_the_corpus_is_covered(corpus: dict[str, Case]) -> None:
    assert sorted(corpus) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_probe_corpus(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    if case.error is None:
        info = within(20, lambda: probe(case.path))
        assert info.duration > 0
        assert info.size_bytes == case.path.stat().st_size
        if case.has_video is not None:
            assert info.has_video is case.has_video
        if case.has_audio is not None:
            assert info.has_audio is case.has_audio
        return
    with pytest.raises(MediaError) as caught:
        within(20, lambda: probe(case.path))
    err = caught.value
    assert case.error in err.reason, err.reason
    assert isinstance(err, ValueError)
    assert err.path == str(case.path)
    assert "\n" not in str(err)  # one line, even for a name with a newline in it


def test_details_of_a_good_file(corpus: dict[str, Case]) -> None:
    info = probe(corpus["vp9_opus_webm"].path)
    assert (info.width, info.height, info.fps) == (160, 120, 25.0)
    assert (info.video_codec, info.audio_codec) == ("vp9", "opus")
    assert info.sample_rate == 48000 and info.channels == 1
    assert info.kind == "video"
    assert info.duration == pytest.approx(2.0, abs=0.05)


def test_audio_files_named_mp4_are_probed_by_content(corpus: dict[str, Case]) -> None:
    assert probe(corpus["wav_named_mp4"].path).container == "wav"
    mp3 = probe(corpus["mp3_named_mp4"].path)
    assert mp3.container == "mp3" and mp3.kind == "audio"
    assert mp3.duration == pytest.approx(2.0, abs=0.1)


def test_duration_is_measured_when_the_container_states_none(corpus: dict[str, Case]) -> None:
    info = probe(corpus["raw_h264_no_duration"].path)
    assert info.duration == pytest.approx(2.0, abs=0.05)


def test_long_silence_probes_with_its_full_length(corpus: dict[str, Case]) -> None:
    assert probe(corpus["long_silence"].path).duration == pytest.approx(600.0, abs=0.5)


def test_size_limit(corpus: dict[str, Case]) -> None:
    path = corpus["video_only"].path
    with pytest.raises(MediaError, match="above the limit"):
        probe(path, ProbeOptions(max_bytes=1000))
    assert probe(path, ProbeOptions(max_bytes=None)).has_video


def test_tail_check_can_be_skipped(corpus: dict[str, Case]) -> None:
    # Without it, a cut-short file whose index sits at the front passes on its header's word.
    path = corpus["truncated_half_faststart"].path
    assert probe(path, ProbeOptions(check_tail=False)).duration == pytest.approx(2.0, abs=0.05)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")


def test_unreadable_file_chmod_000(corpus: dict[str, Case], tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip(
            "running as root, where chmod 000 does not stop reading; "
            "test_unreadable_file_with_fake_access covers the check"
        )
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(corpus["video_only"].path.read_bytes())
    locked.chmod(0)
    try:
        with pytest.raises(MediaError, match="permission denied"):
            probe(locked)
    finally:
        locked.chmod(0o644)


def test_unreadable_file_with_fake_access(corpus: dict[str, Case], monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake: os.access answers "not readable" for this one file, as it would for a non-root user.
    target = str(corpus["video_only"].path)
    real_access = os.access

    def fake_access(p: str, mode: int, **kw: object) -> bool:
        return False if str(p) == target else real_access(p, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", fake_access)
    with pytest.raises(MediaError, match="permission denied"):
        probe(target)
    with pytest.raises(MediaError, match="permission denied"):
        content_hash(target)


def test_missing_extra_names_the_pip_extra(corpus: dict[str, Case], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(MissingExtraError, match=r"mediarec\[media\]"):
        probe(corpus["video_only"].path)

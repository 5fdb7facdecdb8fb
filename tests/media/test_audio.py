"""Audio for speech models: 16 kHz mono float32, streamed in bounded memory, damage reported not raised."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="media tests need the `media` extra (PyAV)")

from mediarec.media import AudioReport, MediaError, iter_audio, load_audio
from tests.media.fixtures import Case, make_sine, within


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_sine_48k_stereo_comes_back_16k_mono(sine_wav: Path) -> None:
    report = AudioReport()
    audio = load_audio(sine_wav, report=report)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(3 * 16000, rel=0.01)
    assert dominant_hz(audio, 16000) == pytest.approx(440, abs=2)
    assert audio.min() >= -1.0 and audio.max() <= 1.0
    assert np.abs(audio).max() > 0.5  # the downmix kept the level, it did not halve it to near silence
    assert report.complete and report.seconds == pytest.approx(3.0, rel=0.01)


@pytest.mark.parametrize("name", ["mp3_named_mp4", "flac", "ogg_vorbis", "vp9_opus_webm", "audio_only"])
def test_other_codecs_decode(corpus: dict[str, Case], name: str) -> None:
    audio = load_audio(corpus[name].path)
    assert len(audio) == pytest.approx(2 * 16000, rel=0.02)
    assert dominant_hz(audio, 16000) == pytest.approx(440, abs=3)


def test_other_sample_rate(sine_wav: Path) -> None:
    audio = load_audio(sine_wav, sample_rate=8000)
    assert len(audio) == pytest.approx(3 * 8000, rel=0.01)
    assert dominant_hz(audio, 8000) == pytest.approx(440, abs=2)


def test_chunks_are_fixed_size_and_add_up(sine_wav: Path) -> None:
    chunks = list(iter_audio(sine_wav, chunk_seconds=0.5))
    assert [len(c) for c in chunks[:-1]] == [8000] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 8000
    assert np.array_equal(np.concatenate(chunks), load_audio(sine_wav))


def test_max_seconds(sine_wav: Path) -> None:
    assert len(load_audio(sine_wav, max_seconds=1.25)) == 20000
    assert sum(len(c) for c in iter_audio(sine_wav, chunk_seconds=1, max_seconds=2.5)) == 40000


def test_long_silence_streams_in_bounded_memory(corpus: dict[str, Case]) -> None:
    path = corpus["long_silence"].path  # 10 minutes: 38 MB as float32 if held whole
    chunk = 16000 * 30
    total = 0
    tracemalloc.start()
    try:
        for piece in iter_audio(path, chunk_seconds=30):
            assert len(piece) <= chunk
            assert not piece.any()
            total += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 600 * 16000
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB for 1.9 MB chunks"


def test_silent_and_empty_audio(tmp_path: Path) -> None:
    silent = make_sine(tmp_path / "quiet.wav", seconds=1.0, codec_args=("-af", "volume=0"))
    audio = load_audio(silent)
    assert len(audio) == 16000 and not audio.any()


def test_no_audio_stream(corpus: dict[str, Case]) -> None:
    with pytest.raises(MediaError, match="no audio stream"):
        load_audio(corpus["video_only"].path)


@pytest.mark.parametrize("name", ["zero_bytes", "text_named_mp4", "truncated_half", "directory", "fifo"])
def test_unusable_files_raise_media_error(corpus: dict[str, Case], name: str) -> None:
    with pytest.raises(MediaError):
        within(20, lambda: load_audio(corpus[name].path))


def test_truncated_file_returns_what_decodes(corpus: dict[str, Case]) -> None:
    report = AudioReport()
    audio = load_audio(corpus["truncated_half_faststart"].path, report=report)
    assert 0.3 * 16000 < len(audio) < 1.8 * 16000
    assert report.truncated and not report.complete
    assert report.errors


def test_corrupt_packets_mid_stream_are_skipped(corpus: dict[str, Case], tmp_path: Path) -> None:
    data = bytearray(corpus["audio_only"].path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 600] = np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.m4a"
    damaged.write_bytes(bytes(data))
    report = AudioReport()
    audio = within(20, lambda: load_audio(damaged, report=report))
    # The damaged packets come back as silence, so later audio keeps its place in time.
    assert len(audio) == pytest.approx(2 * 16000, rel=0.02)
    assert report.corrupt_packets > 0 and not report.complete
    assert dominant_hz(audio[:8000], 16000) == pytest.approx(440, abs=3)


def test_load_audio_allocates_the_result_once(corpus: dict[str, Case]) -> None:
    report = AudioReport()
    tracemalloc.start()
    try:
        audio = load_audio(corpus["long_silence"].path, report=report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(audio) == 600 * 16000
    assert report.stated_seconds == pytest.approx(600.0)
    assert peak < 1.3 * audio.nbytes, f"peak {peak / 2**20:.1f} MiB, result {audio.nbytes / 2**20:.1f} MiB"

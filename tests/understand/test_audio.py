"""The audio stage: the NumPy log-mel front end (light) and YAMNet tagging on real signals (heavy).

The heavy tests run the kit's quantised YAMNet on espeak-ng speech, a synthesised piano-and-drums
clip, digital silence and a 440 Hz tone; they skip, with the reason, where onnxruntime or
espeak-ng is missing.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mediarec.records import MediaInfo
from mediarec.settings import Settings
from mediarec.understand import logmel
from mediarec.understand.audio import (
    EMBEDDING_DIM,
    EMBEDDING_TENSOR,
    AudioExtractor,
    AudioOptions,
    _appended_output,
)
from mediarec.understand.base import ItemContext

SR = logmel.SAMPLE_RATE
MUSIC_FAMILY = {
    *("Music", "Musical instrument", "Piano", "Electric piano", "Keyboard (musical)", "Synthesizer"),
    *("Plucked string instrument", "Guitar", "Harpsichord", "Organ", "Drum", "Drum kit", "Pop music"),
}
TONE_FAMILY = {
    *("Sine wave", "Beep, bleep", "Dial tone", "Telephone", "Busy signal", "Alarm", "Tuning fork"),
    *("Whistle", "Hum", "Ringtone", "Telephone dialing, DTMF", "Buzzer", "Electronic tuner"),
}


def tone(freq: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def music(seconds: float = 8.0, seed: int = 0, bpm: float = 120.0) -> np.ndarray:
    """Piano-like notes (decaying harmonics) over a I-IV-V-I progression, with kick and hi-hat."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    beat = 60.0 / bpm
    chords = ([0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7])
    for i in range(int(seconds / beat)):
        start = i * beat
        chord = chords[(i // 4) % 4]
        notes = [chord[0] - 12, int(rng.choice([0, 2, 4, 5, 7, 9, 11, 12])) + 12]
        notes += chord if i % 2 == 0 else []
        later = t >= start
        tt = t[later] - start
        for semitones in notes:
            f = 261.63 * 2 ** (semitones / 12)
            env = np.exp(-3 * tt) * (1 - np.exp(-200 * tt))
            out[later] += 0.15 * env * sum(0.6**h * np.sin(2 * np.pi * f * (h + 1) * tt) for h in range(6))
        kick = later & (t < start + 0.15)
        tk = t[kick] - start
        out[kick] += 0.5 * np.sin(2 * np.pi * (60 + 80 * np.exp(-30 * tk)) * tk) * np.exp(-25 * tk)
        hat = (t >= start + beat / 2) & (t < start + beat / 2 + 0.05)
        out[hat] += 0.1 * rng.standard_normal(int(hat.sum())) * np.exp(-80 * (t[hat] - start - beat / 2))
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


# -- front end (no model) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "expected"),
    [(0, 0), (1, 1), (399, 1), (15600, 1), (15601, 2), (15600 + 7680, 2), (15601 + 7680, 3), (160000, 20)],
)
def test_patch_count_and_shape(samples: int, expected: int) -> None:
    assert logmel.patch_count(samples) == expected
    out = logmel.patches(np.zeros(samples, dtype=np.float32))
    assert out.shape == (expected, 96, 64) and out.dtype == np.float32


def test_frame_count_for_known_lengths() -> None:
    assert logmel.log_mel(np.zeros(399, np.float32)).shape == (0, 64)
    assert logmel.log_mel(np.zeros(400, np.float32)).shape == (1, 64)
    assert logmel.log_mel(np.zeros(SR, np.float32)).shape == (1 + (SR - 400) // 160, 64)  # 98


def test_silence_is_the_log_floor() -> None:
    out = logmel.patches(np.zeros(SR, np.float32))
    assert np.allclose(out, np.log(logmel.LOG_OFFSET))


def test_mel_filters() -> None:
    m = logmel.mel_matrix()
    assert m.shape == (257, 64) and not m.flags.writeable
    assert (m[0] == 0).all() and m.max() <= 1.0 and (m.sum(axis=0) > 0.5).all()
    # Triangles built in the mel domain share edges, so they sum to 1 between the outer centres.
    bin_hz = np.linspace(0, SR / 2, 257)
    edges = np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66)
    edges_hz = 700 * np.expm1(edges / 1127)
    inside = (bin_hz >= edges_hz[1]) & (bin_hz <= edges_hz[-2])
    assert np.allclose(m[inside].sum(axis=1), 1.0, atol=1e-5)
    assert (m[(bin_hz < edges_hz[0]) | (bin_hz > edges_hz[-1])] == 0).all()
    # No area normalisation: a wide band's weights sum to about its half-width in FFT bins.
    half_width_bins = (edges_hz[2:] - edges_hz[:-2]) / 2 / (SR / 512)
    wide = half_width_bins > 4
    assert np.allclose(m.sum(axis=0)[wide], half_width_bins[wide], rtol=0.05)


@pytest.mark.parametrize("freq", [250.0, 1000.0, 3000.0, 6000.0])
def test_pure_tone_peaks_in_its_mel_band(freq: float) -> None:
    centres_hz = 700 * np.expm1(
        np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66) / 1127
    )
    expected = int(np.argmin(np.abs(centres_hz[1:-1] - freq)))
    assert int(logmel.log_mel(tone(freq, 1.0)).mean(axis=0).argmax()) == expected


def test_magnitude_not_power() -> None:
    # Ten times the amplitude adds log(10) to a magnitude spectrum's log-mel, 2 log(10) to a power one.
    quiet, loud = (logmel.log_mel(tone(1000.0, 1.0, amp=a)).mean(axis=0) for a in (0.05, 0.5))
    band = int(loud.argmax())
    assert loud[band] - quiet[band] == pytest.approx(np.log(10.0), rel=0.01)


def test_chunked_patches_match_whole_computation() -> None:
    x = np.random.default_rng(0).standard_normal(int(7.3 * SR)).astype(np.float32) * 0.1
    n = logmel.patch_count(len(x))
    padded = np.pad(x, (0, 15600 + (n - 1) * 7680 - len(x)))
    frames = logmel.log_mel(padded)
    whole = np.stack([frames[i * 48 : i * 48 + 96] for i in range(n)])
    for chunk in (1, 3, 64):
        got = np.concatenate(list(logmel.iter_patches(x, chunk_patches=chunk)))
        np.testing.assert_allclose(got, whole, rtol=1e-5, atol=1e-5)
    assert all(p.flags.c_contiguous for p in next(logmel.iter_patches(x, 4)))


def test_non_finite_samples_stay_local() -> None:
    x = np.zeros(5 * SR, np.float32)
    x[100:200], x[300] = np.nan, np.inf
    with np.errstate(all="raise"):
        out = logmel.patches(x)
    assert np.isfinite(out).all() and np.allclose(out[-3:], np.log(logmel.LOG_OFFSET))


# -- timeline merging (stub model: no weights needed) ------------------------------------------


def _stub(names: list[str], **options: Any) -> AudioExtractor:
    ex = AudioExtractor(Settings(), AudioOptions(**options))
    ex._model = SimpleNamespace(names=names)  # type: ignore[assignment]
    return ex


def test_timeline_merges_runs_and_tiles_the_clip() -> None:
    labels = [0, 0, 0, 1, 0, 0, 2, 2, 2, 2]  # the lone 1 folds into the first window
    probs = np.full((10, 3), 0.01, dtype=np.float32)
    probs[np.arange(10), labels] = 0.9
    ex = _stub(["A", "B", "C"])
    timeline = ex.timeline(probs, duration=5.3)
    assert [(w["start"], w["end"], w["tags"][0]["name"]) for w in timeline] == [
        (0.0, 2.88, "A"),
        (2.88, 5.3, "C"),
    ]
    assert [t["name"] for t in ex._top(probs.mean(axis=0), 10)] == ["A", "C", "B"]
    strict = _stub(["A", "B", "C"], min_score=0.95)
    assert [t["name"] for t in strict._top(probs.mean(axis=0), 10)] == ["A"]  # the best is always kept
    short_opening = [1, 0, 0, 0]
    probs = np.full((4, 3), 0.01, dtype=np.float32)
    probs[np.arange(4), short_opening] = 0.9
    assert [w["start"] for w in ex.timeline(probs, 2.0)] == [0.0]


def test_version_names_payload_options() -> None:
    assert AudioExtractor(Settings()).version == f"yamnet-w8a8/1+logmel/{logmel.REVISION}"
    assert AudioExtractor(Settings(), AudioOptions(threads=2)).version == AudioExtractor(Settings()).version
    assert "top_k=3" in AudioExtractor(Settings(), AudioOptions(top_k=3)).version
    assert AudioExtractor.dim == EMBEDDING_DIM == 1024


# -- the model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extractor(shared_kit: Settings) -> AudioExtractor:
    pytest.importorskip(
        "onnxruntime", reason="onnxruntime is not installed (pip install 'mediarec[understand]')"
    )
    return AudioExtractor(shared_kit)


def espeak(text: str, tmp_path: Path, voice: str = "en") -> np.ndarray:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    from scipy.signal import resample_poly

    path = tmp_path / f"{abs(hash((text, voice)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    return resample_poly(x, SR, rate).astype(np.float32)


SENTENCES = (
    "The quick brown fox jumps over the lazy dog. Speech recognition is useful to many people.",
    "Yesterday we walked to the market and bought apples, bread and cheese for a picnic.",
)


def _top_names(ex: AudioExtractor, x: np.ndarray, k: int = 1) -> list[str]:
    return [t["name"] for t in ex.payload(ex.analyse(x))["tags"][:k]]


@pytest.mark.heavy
def test_speech_is_tagged_speech(extractor: AudioExtractor, tmp_path: Path) -> None:
    payload = extractor.payload(extractor.analyse(espeak(SENTENCES[0], tmp_path)))
    assert payload["tags"][0]["name"] == "Speech"
    assert payload["speech_score"] > 0.5 > payload["music_score"]
    assert payload["speech_fraction"] > 0.5


@pytest.mark.heavy
def test_music_is_tagged_music(extractor: AudioExtractor) -> None:
    payload = extractor.payload(extractor.analyse(music()))
    assert payload["tags"][0]["name"] in MUSIC_FAMILY
    assert payload["music_score"] > 0.5 > payload["speech_score"]


@pytest.mark.heavy
def test_silence_is_tagged_silence(extractor: AudioExtractor) -> None:
    payload = extractor.payload(extractor.analyse(np.zeros(3 * SR, np.float32)))
    assert payload["tags"][0]["name"] == "Silence"
    assert payload["silence_score"] > 0.9 and payload["silence_fraction"] == 1.0


@pytest.mark.heavy
def test_sine_is_tagged_as_a_tone(extractor: AudioExtractor) -> None:
    assert _top_names(extractor, tone(440.0, 5.0))[0] in TONE_FAMILY


@pytest.mark.heavy
def test_front_end_fits_the_models_input_range(extractor: AudioExtractor, shared_kit: Settings) -> None:
    from mediarec.kit import model_dir

    quant = json.loads(
        (model_dir("yamnet", shared_kit.home_path, shared_kit) / "quantization.json").read_text()
    )
    lo = quant["input"]["scale"] * (0 - quant["input"]["zero_point"])
    hi = quant["input"]["scale"] * (255 - quant["input"]["zero_point"])
    floor = np.log(logmel.LOG_OFFSET)
    assert abs(floor - lo) < quant["input"]["scale"]  # digital silence is the bottom of the range
    loudest = [tone(1000.0, 2.0, amp=1.0), np.random.default_rng(0).uniform(-1, 1, 2 * SR).astype(np.float32)]
    for x in loudest:  # full-scale input stays inside: the model was calibrated on magnitudes
        p = logmel.patches(x)
        assert floor - 1e-4 <= p.min() and p.max() < hi
    assert extractor.model.quantise(logmel.patches(np.zeros(SR, np.float32))).max() == 0


@pytest.mark.heavy
def test_timeline_follows_the_soundtrack(extractor: AudioExtractor, tmp_path: Path) -> None:
    x = np.concatenate([espeak(" ".join(SENTENCES), tmp_path), music(8.0), np.zeros(4 * SR, np.float32)])
    duration = len(x) / SR
    timeline = extractor.payload(extractor.analyse(x))["timeline"]
    assert timeline[0]["start"] == 0.0 and timeline[-1]["end"] == pytest.approx(duration, abs=1e-3)
    for a, b in itertools.pairwise(timeline):
        assert a["end"] == b["start"]
    assert all(0 <= w["start"] < w["end"] <= duration + 1e-3 for w in timeline)
    order = [w["tags"][0]["name"] for w in timeline]
    assert order[0] == "Speech" and order[-1] == "Silence"
    assert (
        order.index("Speech")
        < next(i for i, n in enumerate(order) if n in MUSIC_FAMILY)
        < order.index("Silence")
    )


@pytest.mark.heavy
def test_embedding_groups_speech_apart_from_music(extractor: AudioExtractor, tmp_path: Path) -> None:
    speech = [
        extractor.analyse(espeak(s, tmp_path, v)).embedding
        for s, v in zip(SENTENCES, ("en", "en-us"), strict=True)
    ]
    tune = extractor.analyse(music(8.0, seed=3, bpm=96)).embedding
    vecs = [v for v in (*speech, tune) if v is not None]
    assert len(vecs) == 3 and all(v.shape == (EMBEDDING_DIM,) and np.isfinite(v).all() for v in vecs)

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos(vecs[0], vecs[1]) > max(cos(vecs[0], vecs[2]), cos(vecs[1], vecs[2]))


@pytest.mark.heavy
def test_embedding_output_leaves_class_scores_unchanged(
    extractor: AudioExtractor, shared_kit: Settings
) -> None:
    import onnxruntime as ort

    from mediarec.kit import model_dir

    folder = model_dir("yamnet", shared_kit.home_path, shared_kit)
    plain = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    model = extractor.model
    # The private-copy fallback (older onnxruntime) must load the same edited graph.
    edited = (folder / "model.onnx").read_bytes() + _appended_output(EMBEDDING_TENSOR)
    fallback = model._from_private_copy(ort, folder, edited, ort.SessionOptions())
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.integers(0, 256, (96, 64), dtype=np.uint8)
        (expected,) = plain.run(None, {"audio": q[None, None]})
        scores, emb = model.run_patch(q)
        np.testing.assert_array_equal(scores, expected[0])
        assert emb.shape == (EMBEDDING_DIM,) and emb.dtype == np.float32
        np.testing.assert_array_equal(fallback.run(None, {"audio": q[None, None]})[0], expected)


@pytest.mark.heavy
def test_chunk_size_does_not_change_results(extractor: AudioExtractor) -> None:
    x = music(5.0)
    whole = extractor.analyse(x)
    one = AudioExtractor(extractor.settings, AudioOptions(chunk_patches=1))
    one._model = extractor.model
    single = one.analyse(x)
    np.testing.assert_array_equal(whole.probs, single.probs)
    assert whole.embedding is not None and single.embedding is not None
    np.testing.assert_allclose(whole.embedding, single.embedding, rtol=1e-6)


def _context(seconds: float, audio: np.ndarray | None) -> ItemContext:
    info = MediaInfo("x.wav", 1, "wav", seconds, has_video=False, has_audio=audio is not None)
    ctx = ItemContext(item_id="i", path=Path("x.wav"), info=info)
    if audio is not None:
        ctx._audio = audio
    return ctx


@pytest.mark.heavy
def test_run_returns_the_feature(extractor: AudioExtractor) -> None:
    feat = extractor.run(_context(2.0, tone(440.0, 2.0)))
    assert feat.extractor == "audio" and feat.version == extractor.version
    assert feat.vector is not None and feat.vector.shape == (EMBEDDING_DIM,)
    p = feat.payload
    assert {"tags", "timeline", "speech_score", "music_score", "silence_score"} <= set(p)
    assert p["duration"] == 2.0 and p["patches"] == logmel.patch_count(2 * SR)
    json.dumps(p)  # the store keeps it as JSON
    empty = extractor.run(_context(0.0, None))
    assert empty.vector is None and empty.payload["tags"] == [] and empty.payload["silence_score"] == 1.0

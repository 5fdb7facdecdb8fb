"""The speech stage: accurate transcripts of narrated clips, and no invented words where nobody speaks.

Accuracy is measured against the demo media's espeak-ng narration (``truth.script``) as word error
rate, after a normalisation that only removes differences of writing, not of words: case,
punctuation, digits vs number words ("10" / "ten"), British vs American spelling.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediarec.records import MediaInfo
from mediarec.settings import Settings
from mediarec.understand.base import Feature, ItemContext
from mediarec.understand.speech import SAMPLE_RATE, SpeechExtractor, SpeechOptions, loudest_dbfs, windows

SR = SAMPLE_RATE

# -- word error rate ---------------------------------------------------------------------------

_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth"}
_ORDINAL |= {"nine": "ninth", "twelve": "twelfth"}
_US_UK = {  # the narration is British; Whisper writes American
    **dict(color="colour", colors="colours", flavor="flavour", flavors="flavours", favorite="favourite"),
    **dict(synthesizer="synthesiser", synthesizers="synthesisers", center="centre", meter="metre"),
}


def _say(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _say(n % 100))
    return _say(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + _say(n % 1000))


def _number(m: re.Match[str]) -> str:
    words = _say(int(m.group(1))).split()
    if m.group(2):  # 7th -> seventh
        last = words[-1]
        words[-1] = _ORDINAL.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f" {' '.join(words)} "


def normalise(text: str) -> list[str]:
    t = text.lower().replace("%", " percent")
    t = re.sub(r"(\d),(\d{3})", r"\1\2", t)
    t = re.sub(r"(\d+)(st|nd|rd|th)?", _number, t)
    t = re.sub(r"[^a-z ]+", " ", t.replace("'", ""))
    return [_US_UK.get(w, w) for w in t.split()]


def edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_word_error_rate_helpers() -> None:
    words = normalise("Knead it for 10 minutes, add the 3rd egg; it's 21st-century colour!")
    assert " ".join(words) == "knead it for ten minutes add the third egg its twenty first century colour"
    assert " ".join(normalise("The 2-5-1 flavor")) == "the two five one flavour"
    assert edit_distance(["a", "b", "c", "d"], ["a", "x", "c"]) == 2  # one substitution, one deletion
    assert edit_distance([], ["a", "b"]) == 2


# -- helpers that need no model ----------------------------------------------------------------


def fake_context(audio: np.ndarray, features: dict[str, Feature] | None = None) -> ItemContext:
    """A fake item: the audio is handed over directly, there is no file behind it."""
    info = MediaInfo(
        path="fake.wav",
        size_bytes=0,
        container="wav",
        duration=len(audio) / SR,
        has_video=False,
        has_audio=len(audio) > 0,
        sample_rate=SR,
        channels=1,
    )
    return ItemContext(
        item_id="fake",
        path=Path("fake.wav"),
        info=info,
        features=dict(features or {}),
        _audio=np.asarray(audio, dtype=np.float32),
    )


def no_kit() -> Settings:
    """Settings whose kit is empty: any attempt to load Whisper fails loudly."""
    return Settings(home="/nonexistent/home", kit_dir="/nonexistent/kit")


def music(seconds: float = 20.0) -> np.ndarray:
    """Four bars a second of changing triads with plucked (decaying) notes and a kick: rhythmic and
    harmonic, nothing like a voice."""
    t = np.arange(int(seconds * SR)) / SR
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    out = np.zeros_like(t)
    beat = 0.25
    for i in range(int(seconds / beat)):
        lo, hi = int(i * beat * SR), int((i + 1) * beat * SR)
        tt = t[lo:hi] - t[lo]
        for f in chords[(i // 8) % 4]:
            out[lo:hi] += 0.12 * np.sin(2 * np.pi * f * tt) * np.exp(-4 * tt)
        if i % 2 == 0:
            out[lo:hi] += 0.3 * np.sin(2 * np.pi * 60 * tt) * np.exp(-20 * tt)
    return out.astype(np.float32)


def tone(seconds: float = 20.0, freq: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def test_no_audio_track_is_marked_without_a_model() -> None:
    feat = SpeechExtractor(no_kit()).run(fake_context(np.zeros(0, np.float32)))
    assert feat.payload["is_speech"] is False and feat.payload["reason"] == "no audio"
    assert feat.payload["segments"] == [] and feat.payload["text"] == "" and feat.vector is None


def test_digital_silence_is_marked_without_a_model() -> None:
    feat = SpeechExtractor(no_kit()).run(fake_context(np.zeros(20 * SR, np.float32)))
    assert (feat.payload["is_speech"], feat.payload["reason"], feat.payload["text"]) == (False, "silence", "")
    assert feat.payload["duration"] == 20.0


def test_loudness() -> None:
    assert loudest_dbfs(np.zeros(SR, np.float32)) == float("-inf")
    quiet_then_loud = np.concatenate([np.full(SR, 0.001, np.float32), np.full(SR // 10, 0.5, np.float32)])
    assert loudest_dbfs(quiet_then_loud) == pytest.approx(20 * np.log10(0.5), abs=0.01)


def test_windows_cover_the_audio_and_cut_at_quiet_moments() -> None:
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 95 * SR).astype(np.float32)
    for quiet in (27, 50):  # a pause in the last 10 s of each of the first two windows
        audio[quiet * SR : quiet * SR + SR // 2] = 0
    spans = windows(audio, window_seconds=30, search_seconds=10)
    assert spans[0][0] == 0 and spans[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    cuts = [stop / SR for _, stop in spans[:-1]]
    assert 27 <= cuts[0] <= 27.5 and 50 <= cuts[1] <= 50.5
    assert windows(audio[: 30 * SR], 30) == [(0, 30 * SR)]


def test_version_names_what_changes_the_transcript() -> None:
    base = SpeechExtractor(no_kit())
    assert base.version.startswith("whisper-base-int8/1[beam=5,lang=auto,")
    assert SpeechExtractor(no_kit(), SpeechOptions(beam_size=1)).version != base.version
    assert SpeechExtractor(no_kit(), SpeechOptions(min_avg_logprob=-0.8)).version != base.version
    assert SpeechExtractor(no_kit(), SpeechOptions(cpu_threads=2)).version == base.version
    assert (SpeechExtractor.name, SpeechExtractor.uses, SpeechExtractor.dim) == ("speech", ("audio",), None)


# -- with the model ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech(shared_kit: Settings) -> SpeechExtractor:
    pytest.importorskip("faster_whisper", reason="faster-whisper missing: pip install -e '.[understand]'")
    return SpeechExtractor(shared_kit, SpeechOptions(cpu_threads=2))


def _audio_feature(top: str, speech_score: float, music_score: float) -> Feature:
    tags = [{"name": top, "score": max(speech_score, music_score, 0.5)}]
    return Feature("audio", "fake", {"tags": tags, "speech_score": speech_score, "music_score": music_score})


@pytest.mark.heavy
@pytest.mark.parametrize("name", ["silence", "music", "tone"])
def test_no_words_are_invented_where_nobody_speaks(speech: SpeechExtractor, name: str) -> None:
    audio = {"silence": np.zeros(20 * SR, np.float32), "music": music(), "tone": tone()}[name]
    # No level shortcut: Whisper (behind the VAD) really sees the silence too.
    ex = SpeechExtractor(speech.settings, SpeechOptions(cpu_threads=2, silence_dbfs=float("-inf")))
    ex._model = speech._load()  # share the loaded model: loading costs seconds
    p = ex.run(fake_context(audio)).payload
    assert p["is_speech"] is False and p["reason"] == "no speech detected"
    assert (p["segments"], p["text"], p["language"]) == ([], "", None)
    # With the audio stage's verdict, the reason names what was heard.
    tagged = {
        "silence": _audio_feature("Silence", 0.0, 0.0),
        "music": _audio_feature("Music", 0.01, 0.8),
        "tone": _audio_feature("Sine wave", 0.0, 0.05),
    }[name]
    p = ex.run(fake_context(audio, {"audio": tagged})).payload
    expected = "silence" if name == "silence" else "music"
    assert (p["is_speech"], p["reason"], p["text"]) == (False, expected, "")


@dataclass
class Transcribed:
    clip: Any  # MediaClip
    payload: dict[str, Any]
    media_seconds: float
    wall_seconds: float


@pytest.fixture(scope="session")
def narrated(demo_media: Any) -> list[Any]:
    """The demo's espeak-ng narrated clips (24, ~17 s each), rendered once per session."""
    return [c for c in demo_media.clips if c.truth.script]


@pytest.fixture(scope="module")
def transcripts(speech: SpeechExtractor, narrated: list[Any]) -> list[Transcribed]:
    from mediarec.media import probe

    speech._load()  # loading is not part of the real-time factor
    out = []
    for clip in narrated:
        ctx = ItemContext(item_id=clip.id, path=clip.path, info=probe(clip.path))
        audio = ctx.audio()
        started = time.perf_counter()
        payload = speech.run(ctx).payload
        out.append(Transcribed(clip, payload, len(audio) / SR, time.perf_counter() - started))
    return out


@pytest.mark.heavy
def test_word_error_rate_on_narrated_clips(transcripts: list[Transcribed]) -> None:
    errors = words = 0
    for t in transcripts:
        ref, hyp = normalise(t.clip.truth.script), normalise(t.payload["text"])
        e = edit_distance(ref, hyp)
        errors, words = errors + e, words + len(ref)
        print(f"{t.clip.id:14} WER {e / len(ref):6.1%}  ({e}/{len(ref)})")
        assert e / len(ref) < 0.4, f"{t.clip.id}: {t.payload['text']!r} vs {t.clip.truth.script!r}"
    media = sum(t.media_seconds for t in transcripts)
    wall = sum(t.wall_seconds for t in transcripts)
    print(
        f"overall WER {errors / words:.1%} ({errors}/{words} words); {media:.0f} s of media in "
        f"{wall:.0f} s: {media / wall:.1f}x real time"
    )
    assert errors / words < 0.15
    assert media / wall > 1.0  # faster than real time on two threads, even on a busy machine


@pytest.mark.heavy
def test_segments_lie_inside_the_clip_in_order(transcripts: list[Transcribed]) -> None:
    for t in transcripts:
        p = t.payload
        assert p["is_speech"] is True and p["reason"] is None and p["segments"]
        assert p["duration"] == pytest.approx(t.clip.truth.duration, abs=0.1)
        starts = [s["start"] for s in p["segments"]]
        assert starts == sorted(starts)
        for s in p["segments"]:
            assert 0 <= s["start"] < s["end"] <= p["duration"] + 1e-6, (t.clip.id, s)
            assert s["text"] and -1.5 <= s["avg_logprob"] <= 0 and 0 <= s["no_speech_prob"] <= 1
        assert p["text"] == " ".join(s["text"] for s in p["segments"])


@pytest.mark.heavy
def test_language_is_english(transcripts: list[Transcribed]) -> None:
    assert {t.payload["language"] for t in transcripts} == {"en"}
    assert all(t.payload["language_probability"] > 0.5 for t in transcripts)


@pytest.mark.heavy
def test_long_audio_is_decoded_in_windows_on_one_clock(speech: SpeechExtractor, narrated: list[Any]) -> None:
    from mediarec.media import load_audio

    first, second = narrated[0], narrated[1]
    audio = np.concatenate([load_audio(first.path), load_audio(second.path)])
    ex = SpeechExtractor(speech.settings, SpeechOptions(cpu_threads=2, window_seconds=15.0))
    ex._model = speech._load()
    spans = windows(audio, 15.0)
    assert len(spans) >= 2
    p = ex.run(fake_context(audio)).payload
    starts = [s["start"] for s in p["segments"]]
    assert starts == sorted(starts) and p["segments"][-1]["end"] <= len(audio) / SR
    assert any(s["start"] > spans[1][0] / SR for s in p["segments"])  # later windows keep file time
    ref = normalise(f"{first.truth.script} {second.truth.script}")
    assert edit_distance(ref, normalise(p["text"])) / len(ref) < 0.2

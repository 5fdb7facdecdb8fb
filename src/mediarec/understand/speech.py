"""Speech to text with Whisper (faster-whisper / CTranslate2, int8 on the CPU).

Whisper invents words when it is fed anything but speech ("Thank you.", "you", "Hmm" over music or
silence), so the stage decides first whether there is speech at all and marks items that have
none instead of storing a made-up transcript:

* no audio track, or a soundtrack whose loudest moment is near digital silence: Whisper never runs;
* Silero VAD (bundled in faster-whisper's package, so it works offline) keeps only speech-like
  audio; when it keeps nothing, there is nothing to decode;
* what Whisper then writes is kept segment by segment only where its own no-speech probability and
  mean log-probability look like speech, and a transcript of nothing but filler words is dropped;
* where the audio stage (YAMNet) ran and heard music rather than speech, those thresholds tighten,
  and its tags name the reason (music, silence) when nothing is kept.

Long soundtracks are decoded in windows cut at quiet moments, so memory does not grow with length.

Payload::

    language, language_probability   detected (or forced) language; None / 0.0 without speech
    is_speech     False when nothing was kept; then ``reason`` says why and segments/text are empty
    reason        None | "no audio" | "silence" | "music" | "no speech detected" | "undecodable audio"
                  (less than half of a damaged soundtrack decoded: no verdict on the rest)
    segments      [{"start", "end", "text", "no_speech_prob", "avg_logprob"}], seconds in the file
    text          the kept segments' text joined by spaces
    duration      seconds of decoded audio
    speech_seconds  how much audio the VAD passed to Whisper

No vector: the text stage embeds the transcript.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.settings import Settings
from mediarec.understand.base import Extractor, ExtractorError, Feature, ItemContext

SAMPLE_RATE = 16000

# YAMNet classes that say "music or a tone, not talk" when one of them leads the audio stage's tags.
_MUSIC_TAGS = frozenset(
    {
        *("Music", "Musical instrument", "Piano", "Electric piano", "Keyboard (musical)", "Synthesizer"),
        *("Plucked string instrument", "Guitar", "Harpsichord", "Organ", "Electronic organ", "Drum"),
        *("Drum kit", "Percussion", "Orchestra", "Bowed string instrument", "Brass instrument"),
        *("Pop music", "Electronic music", "Sine wave", "Beep, bleep", "Dial tone", "Hum", "Tuning fork"),
        *("Whistle", "Buzzer", "Electronic tuner", "Ringtone"),
    }
)
_SILENCE_TAGS = frozenset({"Silence"})
# What Whisper writes over non-speech. Only a transcript made of nothing else is dropped, so a real
# "thank you" inside a conversation survives.
_FILLER_WORDS = frozenset(
    {
        *("you", "hmm", "mm", "mmm", "hm", "uh", "um", "ah", "oh", "so", "okay", "bye"),
        *("thank", "thanks", "for", "watching", "music", "applause", "laughter", "silence"),
    }
)
_NON_SPEECH_MARKS = re.compile(r"[♪♫♩♬]+|\[[^\]]*\]|\([^)]*\)")


@dataclass(frozen=True)
class SpeechOptions:
    """How speech is transcribed. Every field but ``cpu_threads`` and ``window_seconds`` is part of
    the stage's version; the window only moves cut points in files over 25 minutes, and tuning it
    for memory should not recompute every item."""

    # faster-whisper's default. Greedy (1) gave 10.6% WER against 8.7% on the demo narration and no
    # reliable speed-up on two shared cores.
    beam_size: int = 5
    language: str | None = None  # None detects it; an ISO code ("en") forces it
    cpu_threads: int = 0  # CTranslate2 threads; 0 = its default, which follows OMP_NUM_THREADS
    vad_threshold: float = 0.5  # Silero VAD speech probability (faster-whisper's default)
    min_silence_ms: int = 2000  # a pause shorter than this does not split speech (faster-whisper's default)
    # A segment is dropped when Whisper thinks it is not speech *and* is unsure of the words: the
    # pair mirrors Whisper's own rule, with a stricter log-probability (-1.0 lets "Hmm" through).
    no_speech_prob: float = 0.6
    min_avg_logprob: float = -0.5
    garbage_logprob: float = -1.5  # below this a segment is dropped whatever its no-speech probability
    # Where the audio stage heard music (top tag music, Speech score under ``speech_tag_min``), a
    # segment must clear these tighter limits: lyrics survive, invented words over a tune do not.
    speech_tag_min: float = 0.1
    music_no_speech_prob: float = 0.4
    music_min_avg_logprob: float = -0.6
    silence_dbfs: float = -55.0  # loudest 100 ms quieter than this: silence, Whisper is not run
    window_seconds: float = 1200.0  # decode long audio in windows of about this length

    def fingerprint(self) -> str:
        shaping = {k: v for k, v in asdict(self).items() if k not in ("cpu_threads", "window_seconds")}
        return hashlib.sha1(repr(sorted(shaping.items())).encode()).hexdigest()[:6]


class SpeechExtractor(Extractor):
    name = "speech"
    uses = ("audio",)

    def __init__(self, settings: Settings, options: SpeechOptions | None = None) -> None:
        self.settings = settings
        self.options = options or SpeechOptions()
        self._model: Any = None  # loaded on first use, in the process that runs the stage

    @property
    def model_name(self) -> str:
        chosen = self.settings.whisper_model
        return Path(chosen).name if chosen else "whisper-base"

    @property
    def version(self) -> str:
        o = self.options
        shape = f"beam={o.beam_size},lang={o.language or 'auto'},cfg={o.fingerprint()}"
        return f"{self.model_name}-int8/1[{shape}]"

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a folder is given; never look for a hub
            from mediarec.kit import ModelNotInstalled, model_dir

            try:
                folder = model_dir("whisper-base", self.settings.home_path, self.settings)
                from faster_whisper import WhisperModel
            except (ModelNotInstalled, ImportError) as exc:
                raise ExtractorError(str(exc)) from exc
            self._model = WhisperModel(
                str(folder), device="cpu", compute_type="int8", cpu_threads=self.options.cpu_threads
            )
        return self._model

    def run(self, ctx: ItemContext) -> Feature:
        audio = ctx.audio()
        duration = round(len(audio) / SAMPLE_RATE, 3)
        # Most of a damaged soundtrack would not decode: what is missing is unknown, not silence.
        damaged = ctx.audio_shortfall() is not None
        if len(audio) == 0:
            return self.feature(_no_speech("undecodable audio" if damaged else "no audio", duration))
        if loudest_dbfs(audio) < self.options.silence_dbfs:
            return self.feature(_no_speech("undecodable audio" if damaged else "silence", duration))
        # The audio stage's tags never skip decoding (a long quiet file with a little talk is tagged
        # "Silence" overall); they only tighten the filter and name the reason when nothing is kept.
        top, speech_score, music_score = _audio_view(ctx.features.get("audio"))
        music_like = top in _MUSIC_TAGS or music_score > speech_score
        result = self.transcribe(audio, music=music_like and speech_score < self.options.speech_tag_min)
        if not result["segments"]:
            reason = "silence" if top in _SILENCE_TAGS else "music" if music_like else "no speech detected"
            reason = "undecodable audio" if damaged else reason
            return self.feature(_no_speech(reason, duration, result["speech_seconds"]))
        return self.feature({**result, "is_speech": True, "reason": None, "duration": duration})

    def transcribe(self, audio: np.ndarray, *, music: bool = False) -> dict[str, Any]:
        """Kept segments of 16 kHz mono ``audio``, with the language; no speech decision."""
        model = self._load()
        o = self.options
        language, probability = o.language, 1.0 if o.language else 0.0
        segments: list[dict[str, Any]] = []
        speech_seconds = 0.0
        for start, stop in windows(audio, o.window_seconds):
            found, info = model.transcribe(
                audio[start:stop],
                language=language,
                beam_size=o.beam_size,
                vad_filter=True,
                vad_parameters={"threshold": o.vad_threshold, "min_silence_duration_ms": o.min_silence_ms},
                condition_on_previous_text=False,  # one bad window must not seed a hallucination loop
            )
            offset = start / SAMPLE_RATE
            window_segments = [
                _segment(s, offset, len(audio) / SAMPLE_RATE) for s in found if self._keep(s, music)
            ]
            window_segments = [s for s in window_segments if s["text"]]
            speech_seconds += float(info.duration_after_vad)
            if window_segments and language is None:
                # Fix the language from the first window that had speech, for the rest to agree.
                language, probability = info.language, float(info.language_probability)
            segments += window_segments
        if segments and all(_only_fillers(s["text"]) for s in segments):
            segments = []
        return {
            "language": language if segments else None,
            "language_probability": round(probability, 4) if segments else 0.0,
            "segments": segments,
            "text": " ".join(s["text"] for s in segments),
            "speech_seconds": round(speech_seconds, 3),
        }

    def _keep(self, seg: Any, music: bool) -> bool:
        o = self.options
        nsp, lp = float(seg.no_speech_prob), float(seg.avg_logprob)
        if lp < o.garbage_logprob:
            return False
        if music:  # over music both signs must say speech
            return nsp <= o.music_no_speech_prob and lp >= o.music_min_avg_logprob
        return not (nsp > o.no_speech_prob and lp < o.min_avg_logprob)


def _segment(seg: Any, offset: float, limit: float) -> dict[str, Any]:
    text = " ".join(_NON_SPEECH_MARKS.sub(" ", seg.text).split())
    return {
        "start": round(min(limit, offset + float(seg.start)), 3),
        "end": round(min(limit, offset + float(seg.end)), 3),
        "text": text,
        "no_speech_prob": round(float(seg.no_speech_prob), 4),
        "avg_logprob": round(float(seg.avg_logprob), 4),
    }


def _only_fillers(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return all(w in _FILLER_WORDS for w in words)


def _no_speech(reason: str, duration: float, speech_seconds: float = 0.0) -> dict[str, Any]:
    return {
        "language": None,
        "language_probability": 0.0,
        "is_speech": False,
        "reason": reason,
        "segments": [],
        "text": "",
        "duration": duration,
        "speech_seconds": speech_seconds,
    }


def _audio_view(feature: Feature | None) -> tuple[str | None, float, float]:
    """(top tag, Speech score, Music score) from the audio stage; (None, 0, 0) when it did not run."""
    if feature is None:
        return None, 0.0, 0.0
    p = feature.payload
    tags = [t for t in p.get("tags") or [] if isinstance(t, dict) and "name" in t]
    scores = {str(t["name"]): float(t.get("score", 0.0)) for t in tags}
    top = str(tags[0]["name"]) if tags else None
    speech = float(p.get("speech_score", scores.get("Speech", 0.0)))
    music = float(p.get("music_score", scores.get("Music", 0.0)))
    return top, speech, music


def loudest_dbfs(audio: np.ndarray, frame: int = SAMPLE_RATE // 10) -> float:
    """RMS level of the loudest 100 ms, in dB relative to full scale (-inf for digital silence)."""
    n = len(audio) // frame * frame
    frames = audio[:n].reshape(-1, frame) if n else audio.reshape(1, -1)
    peak = float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).max())
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def windows(audio: np.ndarray, window_seconds: float, search_seconds: float = 15.0) -> list[tuple[int, int]]:
    """Sample ranges covering ``audio``, each about ``window_seconds`` long, each cut at the quietest
    100 ms of its last ``search_seconds`` so that a cut rarely splits a word."""
    size = int(window_seconds * SAMPLE_RATE)
    if len(audio) <= size * 1.25:  # no window shorter than a quarter: cutting there gains nothing
        return [(0, len(audio))]
    frame, search = SAMPLE_RATE // 10, int(min(search_seconds, window_seconds / 2) * SAMPLE_RATE)
    out, start = [], 0
    while len(audio) - start > size * 1.25:
        lo = start + size - search
        span = audio[lo : start + size]
        energy = np.square(span[: len(span) // frame * frame].reshape(-1, frame)).mean(axis=1)
        cut = lo + int(energy.argmin()) * frame + frame // 2
        out.append((start, cut))
        start = cut
    out.append((start, len(audio)))
    return out

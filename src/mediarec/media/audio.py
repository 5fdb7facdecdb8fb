"""Audio as models want it: mono float32 in [-1, 1] at one sample rate (16 kHz for speech models).

Decoding streams: packets of the audio stream are demuxed (video packets are skipped undecoded),
decoded, resampled by FFmpeg's swresample and handed out in fixed-size chunks, so memory holds one
chunk whatever the length of the file. A packet that fails to decode is skipped and counted, and the
gap it leaves (like a late start of the audio track) is filled with silence, so that sample n is
always at media time n / sample_rate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediarec.media._open import check_file, decode, import_av, open_container
from mediarec.media.errors import MediaError

# A timestamp gap of at least half a frame means frames are missing; less is rounding (Matroska keeps
# milliseconds). The floor covers decoders that hand out tiny frames.
_GAP_FRAME_FRACTION = 0.5
_GAP_FLOOR_S = 0.005
# A jump longer than this is a broken timestamp rather than lost audio; padding it would invent silence.
_MAX_GAP_S = 600.0
# Audio shorter than its header's duration by more than this (or 2 %) counts as truncated.
_SHORT_TOLERANCE_S = 0.5
_MAX_ERRORS_KEPT = 10


@dataclass
class AudioReport:
    """Filled in while decoding: pass one to :func:`iter_audio` or :func:`load_audio` to learn what failed."""

    seconds: float = 0.0  # audio delivered, at the output sample rate
    corrupt_packets: int = 0  # packets FFmpeg could not decode (their span is returned as silence)
    filled_seconds: float = 0.0  # silence inserted for gaps between timestamps
    truncated: bool = False  # decoding stopped before the stream's stated end
    stated_seconds: float | None = None  # the length the file's header gives, known before decoding
    errors: list[str] = field(default_factory=list)  # the first few FFmpeg messages

    @property
    def complete(self) -> bool:
        return not self.truncated and self.corrupt_packets == 0

    def _note(self, message: str) -> None:
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)

    def _problem(self, kind: str, message: str) -> None:
        if kind == "decode":
            self.corrupt_packets += 1
        elif kind in ("partial", "gave_up"):
            self.truncated = True
        self._note(message)


def iter_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    chunk_seconds: float = 30.0,
    *,
    max_seconds: float | None = None,
    report: AudioReport | None = None,
) -> Iterator[np.ndarray]:
    """Mono float32 chunks of ``chunk_seconds`` (the last one shorter) from the first audio stream.

    Raises :class:`MediaError` when the file cannot be opened or has no audio stream; damage met while
    decoding is recorded in ``report`` instead, and everything decodable is still returned.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    chunk = round(chunk_seconds * sample_rate)
    if chunk <= 0:
        raise ValueError(f"chunk_seconds must give at least one sample, got {chunk_seconds}")
    limit = None if max_seconds is None else max(0, round(max_seconds * sample_rate))
    rep = report if report is not None else AudioReport()
    checked = check_file(path)
    av = import_av()
    container = open_container(checked)
    try:
        stream = next((s for s in container.streams.audio if s.codec_context is not None), None)
        if stream is None:
            raise MediaError(checked.path, "no audio stream")
        rep.stated_seconds = _stated_seconds(av, container, stream)
        pending: list[np.ndarray] = []
        buffered = 0
        delivered = 0
        for piece in _mono_pieces(av, container, stream, sample_rate, rep):
            if limit is not None:
                piece = piece[: max(0, limit - delivered - buffered)]
            pending.append(piece)
            buffered += len(piece)
            while buffered >= chunk:
                joined = _clipped(np.concatenate(pending) if len(pending) > 1 else pending[0])
                out, rest = joined[:chunk], joined[chunk:]
                pending, buffered = ([rest] if len(rest) else []), len(rest)
                delivered += len(out)
                rep.seconds = delivered / sample_rate
                yield out
            if limit is not None and delivered + buffered >= limit:
                break
        if buffered:
            delivered += buffered
            rep.seconds = delivered / sample_rate
            yield _clipped(np.concatenate(pending) if len(pending) > 1 else pending[0])
        if limit is None or delivered < limit:
            _check_length(av, container, stream, delivered / sample_rate, rep)
    finally:
        container.close()


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    max_seconds: float | None = None,
    *,
    report: AudioReport | None = None,
) -> np.ndarray:
    """The whole audio track (or its first ``max_seconds``) as one mono float32 array."""
    rep = report if report is not None else AudioReport()
    out = np.zeros(0, dtype=np.float32)
    filled = 0
    for chunk in iter_audio(path, sample_rate, max_seconds=max_seconds, report=rep):
        if filled + len(chunk) > len(out):
            # Sized from the header's length once it is known, so that the array is allocated once:
            # collecting chunks and joining them would need twice the memory of the result.
            expected = (rep.stated_seconds or 0.0) * 1.01 + 1.0
            if max_seconds is not None:
                expected = min(expected, max_seconds)
            size = max(filled + len(chunk), round(expected * sample_rate), round(len(out) * 1.5))
            grown = np.empty(size, dtype=np.float32)
            grown[:filled] = out[:filled]
            out = grown
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    # A copy only when the estimate overshot by more than a little, to hand back no dead weight.
    return out[:filled] if len(out) - filled <= max(16000, len(out) // 50) else out[:filled].copy()


def _mono_pieces(av: Any, container: Any, stream: Any, rate: int, rep: AudioReport) -> Iterator[np.ndarray]:
    """Resampled audio in decoder-sized pieces, with silence where timestamps show a gap."""
    resampler = _resampler(av, rate)
    origin = float((container.start_time or 0) / av.time_base)
    expected = origin  # media time where the next frame should start
    tolerance = _GAP_FLOOR_S
    for frame in decode(av, container, stream, rep._problem):
        start = float(frame.time) if frame.time is not None else expected
        gap = start - expected
        if tolerance < gap <= _MAX_GAP_S:
            # Flush what the resampler holds first, so that the silence lands after it, not inside it.
            yield from _drain(resampler.resample(None))
            resampler = _resampler(av, rate)
            silence = round(gap * rate)
            rep.filled_seconds += silence / rate
            yield np.zeros(silence, dtype=np.float32)
        elif gap > _MAX_GAP_S:
            rep._note(f"timestamp jumps {gap:.0f} s at {expected:.1f} s; not filled")
        length = frame.samples / frame.sample_rate
        tolerance = max(_GAP_FLOOR_S, _GAP_FRAME_FRACTION * length)
        expected = max(expected, start + length)
        try:
            converted = resampler.resample(frame)
        except ValueError:
            # The stream changed sample rate or layout mid-way; swresample needs a fresh set-up.
            yield from _drain(resampler.resample(None))
            resampler = _resampler(av, rate)
            converted = resampler.resample(frame)
        yield from _drain(converted)
    yield from _drain(resampler.resample(None))


def _clipped(samples: np.ndarray) -> np.ndarray:
    # swresample's stereo-to-mono mix can exceed full scale on loud, correlated channels.
    # Clipping the joined chunk (ours, freshly allocated) in place is one pass instead of one per frame.
    return np.clip(samples, -1.0, 1.0, out=samples)


def _resampler(av: Any, rate: int) -> Any:
    return av.AudioResampler(format="flt", layout="mono", rate=rate)


def _drain(frames: list[Any]) -> Iterator[np.ndarray]:
    for frame in frames:
        # A packed mono "flt" frame comes back as one (1, n) float32 copy; no further copy needed.
        yield frame.to_ndarray().reshape(-1)


def _stated_seconds(av: Any, container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration / av.time_base)
    return None


def _check_length(av: Any, container: Any, stream: Any, got: float, rep: AudioReport) -> None:
    stated = rep.stated_seconds
    if stated is None:
        return
    if stream.duration and stream.time_base:
        short = got < stated - max(_SHORT_TOLERANCE_S, 0.02 * stated)
    else:
        # The container's duration covers every track, and audio may legitimately stop a little
        # before the video does: only a clear shortfall counts.
        short = got < stated - max(1.0, 0.05 * stated)
    if short:
        rep.truncated = True
        rep._note(f"decoded {got:.2f} s of the {stated:.2f} s the header states")

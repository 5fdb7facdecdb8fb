"""YAMNet's log-mel front end in NumPy: 16 kHz mono waveform -> (n, 96, 64) log-mel patches.

The quantised YAMNet export takes log-mel patches, not the waveform, so the front end is ours and
must match the one YAMNet was trained with (``features.py`` in the TF model): 25 ms periodic Hann
frames every 10 ms, a 512-point FFT magnitude (not power), 64 HTK-mel bands over 125-7500 Hz built
in the mel domain with no area normalisation, ``log(mel + 0.001)``, and 0.96 s patches (96 frames)
every 0.48 s (48 frames). The waveform is zero-padded the way YAMNet pads it: up to one patch, then
up to a whole number of patch hops, so the tail of a clip is heard rather than dropped.

Patches are produced chunk by chunk (:func:`iter_patches`): an hour of audio would otherwise build a
740 MB complex spectrogram and a 180 MB overlapping patch array at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

# Bump when the numbers this module produces change; the audio stage's version includes it.
REVISION = 1

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_SECONDS = PATCH_FRAMES * HOP / SAMPLE_RATE
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * HOP / SAMPLE_RATE

# Samples that one patch spans, and that each further patch adds.
_PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW  # 15600 = 0.975 s
_PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP  # 7680


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)  # HTK


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """(257, 64) float32 weights, the same construction as ``tf.signal.linear_to_mel_weight_matrix``:
    triangles in the mel domain peaking at 1, the DC bin zeroed."""
    bins_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    out = weights.astype(np.float32)
    out.setflags(write=False)  # cached and shared: nobody may scale it in place
    return out


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    # Periodic Hann (tf.signal.hann_window's default). Its position inside the 512-point frame only
    # changes the phase, so padding at the end (np.fft.rfft's n=) gives YAMNet's magnitudes.
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)


def log_mel(waveform: np.ndarray) -> np.ndarray:
    """(frames, 64) float32 log-mel frames of a waveform, with no padding (``1 + (n-400)//160``
    frames; none for fewer than 400 samples)."""
    x = np.ascontiguousarray(waveform, dtype=np.float32)
    n_frames = 0 if len(x) < WINDOW else 1 + (len(x) - WINDOW) // HOP
    if n_frames == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, WINDOW), strides=(HOP * x.strides[0], x.strides[0]), writeable=False
    )
    magnitude = np.abs(np.fft.rfft(frames * _window(), n=N_FFT, axis=1)).astype(np.float32)
    return np.log(magnitude @ mel_matrix() + np.float32(LOG_OFFSET))


def patch_count(n_samples: int) -> int:
    """Patches YAMNet makes of ``n_samples`` (0 for empty audio; a short clip still gets one)."""
    if n_samples <= 0:
        return 0
    return 1 + -(-max(0, n_samples - _PATCH_SAMPLES) // _PATCH_HOP_SAMPLES)


def patch_start(index: int) -> float:
    """Start time in seconds of patch ``index`` (each lasts :data:`PATCH_SECONDS`)."""
    return index * PATCH_HOP_SECONDS


def iter_patches(waveform: np.ndarray, chunk_patches: int = 64) -> Iterator[np.ndarray]:
    """Yield read-only (k, 96, 64) float32 patch arrays, k <= ``chunk_patches``, covering the
    whole waveform in order; each patch ``[i]`` is C-contiguous, ready for the model."""
    if chunk_patches < 1:
        raise ValueError("chunk_patches must be at least 1")
    total = patch_count(len(waveform))
    for first in range(0, total, chunk_patches):
        k = min(chunk_patches, total - first)
        start = first * _PATCH_HOP_SAMPLES
        stop = start + _PATCH_SAMPLES + (k - 1) * _PATCH_HOP_SAMPLES
        chunk = np.asarray(waveform[start:stop], dtype=np.float32)
        if len(chunk) < stop - start:
            chunk = np.pad(chunk, (0, stop - start - len(chunk)))
        if not np.isfinite(chunk).all():  # a corrupt decode must not turn whole patches into NaN
            chunk = np.nan_to_num(chunk, nan=0.0, posinf=1.0, neginf=-1.0)
        frames = log_mel(chunk)  # exactly PATCH_FRAMES + (k-1)*PATCH_HOP_FRAMES rows
        yield np.lib.stride_tricks.as_strided(
            frames,
            shape=(k, PATCH_FRAMES, N_MELS),
            strides=(PATCH_HOP_FRAMES * frames.strides[0], *frames.strides),
            writeable=False,
        )


def patches(waveform: np.ndarray) -> np.ndarray:
    """All patches of a waveform as one (n, 96, 64) float32 array ((0, 96, 64) for empty audio).
    For long audio prefer :func:`iter_patches`."""
    chunks = list(iter_patches(waveform))
    if not chunks:
        return np.zeros((0, PATCH_FRAMES, N_MELS), dtype=np.float32)
    return np.concatenate(chunks)

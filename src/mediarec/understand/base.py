"""The extractor contract: each stage of content understanding is one ``Extractor``.

A stage reads an :class:`ItemContext` (the file, its probe result, the outputs of the stages it
``requires``) and returns one :class:`Feature`, which the pipeline stores under
``(item, stage name, version)``. Changing ``version`` (a new model or new code) makes the pipeline
recompute that stage alone; the pipeline stores an *effective* version that also names the versions
of the stages a stage requires, so a new speech model recomputes the text stage that reads its
transcript, and nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mediarec.records import MediaInfo


class ExtractorError(RuntimeError):
    """A stage failed on one item; the message is shown to the user next to the file."""


@dataclass(frozen=True)
class Feature:
    extractor: str
    version: str
    payload: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None


@dataclass
class ItemContext:
    """Everything a stage may read about one item. Audio is decoded once, on first use."""

    item_id: str
    path: Path
    info: MediaInfo
    title: str = ""
    description: str = ""
    work_dir: Path = Path(".")  # per-item folder in the data home (keyframe thumbnails)
    home: Path = Path(".")  # the data home: stored paths are relative to it (mediarec.media.paths)
    features: dict[str, Feature] = field(default_factory=dict)
    max_audio_seconds: float = 4 * 3600.0  # decoded 16 kHz mono costs 230 MB per hour
    _audio: np.ndarray | None = None
    _audio_seconds: float | None = None  # audio actually decoded (gap fill excluded), once audio() ran
    _audio_expected: float = 0.0  # how long the header says the soundtrack is

    def audio(self) -> np.ndarray:
        """The whole soundtrack as 16 kHz mono float32 (empty when the file has none)."""
        if self._audio is None:
            if not self.info.has_audio:
                self._audio = np.zeros(0, dtype=np.float32)
            else:
                from mediarec.media import AudioReport, load_audio

                report = AudioReport()
                self._audio = load_audio(
                    self.path, sample_rate=16000, max_seconds=self.max_audio_seconds, report=report
                )
                # Silence the decoder filled in for undecodable packets is not audio that was heard.
                self._audio_seconds = max(report.seconds - report.filled_seconds, 0.0)
                stated = report.stated_seconds or self.info.duration
                self._audio_expected = min(stated, self.max_audio_seconds)
        return self._audio

    def audio_shortfall(self, share: float = 0.5) -> tuple[float, float] | None:
        """(decoded, expected) seconds when less than ``share`` of the soundtrack could be decoded (a
        damaged file), else None. Stages must not take what is missing for silence."""
        if self._audio_seconds is None:
            return None
        got, expected = self._audio_seconds, self._audio_expected
        return (got, expected) if got < share * expected else None

    def require(self, stage: str) -> Feature:
        try:
            return self.features[stage]
        except KeyError:
            raise ExtractorError(f"stage {stage!r} has not run for this item") from None


class Extractor(ABC):
    """One stage. Subclasses load their model lazily (in the worker process that uses it)."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()  # stages that must have run
    uses: ClassVar[tuple[str, ...]] = ()  # stages read when they ran (e.g. vision on video only)
    needs_video: ClassVar[bool] = False  # skipped (not failed) on audio-only items
    dim: ClassVar[int | None] = None  # length of the item-level vector, when the stage makes one

    @property
    @abstractmethod
    def version(self) -> str:
        """Model identity and code revision, e.g. ``whisper-base-int8/1``."""

    @abstractmethod
    def run(self, ctx: ItemContext) -> Feature: ...

    def applies(self, info: MediaInfo) -> bool:
        return info.has_video or not self.needs_video

    def feature(self, payload: dict[str, Any], vector: np.ndarray | None = None) -> Feature:
        return Feature(self.name, self.version, payload, vector)

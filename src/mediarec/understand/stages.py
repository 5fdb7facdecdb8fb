"""The stage registry: every content-understanding stage, in the order the pipeline runs them.

Modules are imported by name, on demand, so that listing the stages costs no heavy import; a
stage's model loads only when it first runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from mediarec.settings import Settings
from mediarec.understand.base import Extractor
from mediarec.understand.fused import FusedExtractor

# (stage name, module, class). Order matters: a stage runs after the stages it reads.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("shots", "mediarec.understand.shots", "ShotsExtractor"),
    ("audio", "mediarec.understand.audio", "AudioExtractor"),
    ("speech", "mediarec.understand.speech", "SpeechExtractor"),
    ("vision", "mediarec.understand.vision", "VisionExtractor"),
    ("ocr", "mediarec.understand.ocr", "OCRExtractor"),
    ("text", "mediarec.understand.text", "TextExtractor"),
)


def stage_class(module: str, cls: str) -> Any:
    return getattr(importlib.import_module(module), cls)


def all_stages(settings: Settings) -> list[Extractor]:
    stages: list[Extractor] = [stage_class(module, cls)(settings) for _, module, cls in STAGES]
    dims = {s.name: s.dim for s in stages if s.dim}
    stages.append(FusedExtractor(dims))
    return stages


def stage_names() -> list[str]:
    return [name for name, _, _ in STAGES] + [FusedExtractor.name]

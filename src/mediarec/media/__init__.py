"""Media files in, facts and pieces out: probing, speech-ready audio, shots, keyframes, content hashes.

Pure functions over files; nothing here touches the store. Every file that cannot be used raises
:class:`MediaError` (a ``ValueError``) with a reason meant for a person. Decoding needs the ``media``
extra (PyAV, PySceneDetect, Pillow); it is imported on first use, so ``import mediarec.media`` is cheap
and a missing package is named with the extra to install.
"""

from __future__ import annotations

from mediarec.media.audio import AudioReport, iter_audio, load_audio
from mediarec.media.errors import MediaError, MissingExtraError
from mediarec.media.hashing import content_hash
from mediarec.media.keyframes import KeyframeOptions, extract_keyframes, iter_frames
from mediarec.media.probe import ProbeOptions, probe
from mediarec.media.shots import DETECTORS, ShotOptions, detect_shots, detector_version

__all__ = [
    "DETECTORS",
    "AudioReport",
    "KeyframeOptions",
    "MediaError",
    "MissingExtraError",
    "ProbeOptions",
    "ShotOptions",
    "content_hash",
    "detect_shots",
    "detector_version",
    "extract_keyframes",
    "iter_audio",
    "iter_frames",
    "load_audio",
    "probe",
]

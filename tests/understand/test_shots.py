"""The shots stage against the demo generator's ground truth: it knows where it cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediarec.settings import Settings
from mediarec.understand.base import ItemContext
from mediarec.understand.shots import ShotsExtractor

pytest.importorskip("scenedetect", reason="needs the media extra: pip install 'mediarec[media]'")


def test_cuts_match_the_generator_within_two_frames(demo_media: Any, tmp_path: Path) -> None:
    from mediarec.media import probe

    stage = ShotsExtractor(Settings(home=str(tmp_path)))
    clips = [c for c in demo_media.clips if c.truth.cuts]
    assert len(clips) >= 20
    for clip in clips:
        ctx = ItemContext(item_id=clip.id, path=clip.path, info=probe(clip.path), work_dir=tmp_path / clip.id)
        shots = stage.run(ctx).payload["shots"]
        found = [s["start_frame"] for s in shots[1:]]
        assert len(found) == len(clip.truth.cuts), (clip.id, found, clip.truth.cuts)
        for got, want in zip(found, clip.truth.cuts, strict=True):
            assert abs(got - want) <= 2, (clip.id, found, clip.truth.cuts)
        for shot in shots:
            keyframe = Path(shot["keyframe_path"])
            assert keyframe.is_file() and shot["start"] <= shot["keyframe_time"] <= shot["end"]

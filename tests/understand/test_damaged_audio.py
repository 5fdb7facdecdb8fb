"""A damaged soundtrack through the real audio (YAMNet) and speech (Whisper) stages: a warning, and no
verdict of silence on the part that would not decode."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.pipeline import IngestOptions, default_extractors, ingest
from mediarec.settings import Settings
from mediarec.store import Store

pytest.importorskip("av", reason="needs the media extra: pip install 'mediarec[media]'")
from tests.media.fixtures import flip_audio_copy, make_video


@pytest.mark.heavy
def test_a_bit_flipped_mp4_is_reported_and_not_called_silence(shared_kit: Settings, tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper", reason="needs the understand extra")
    pytest.importorskip("onnxruntime", reason="needs the understand extra")
    intact = make_video(tmp_path / "tone.mp4", 4.0, audio_args=("-c:a", "aac"))
    damaged = flip_audio_copy(intact, tmp_path / "flipped.mp4")
    settings = Settings(home=str(tmp_path / "home"), kit_dir=shared_kit.kit_dir)
    store = Store(settings.home_path / "mediarec.db")
    summary = ingest(
        store, settings, [intact, damaged], IngestOptions(workers=0, stages=("audio", "speech")),
        extractors=default_extractors(settings),
    )  # fmt: skip
    by_name = {Path(o.path).name: o for o in summary.outcomes}
    assert [by_name[n].status for n in ("tone.mp4", "flipped.mp4")] == ["processed", "processed"]
    assert not by_name["tone.mp4"].warnings
    (warning,) = by_name["flipped.mp4"].warnings
    assert "of the 4.00 s soundtrack could be decoded" in warning
    item = str(by_name["flipped.mp4"].item_id)
    audio, speech = store.latest_feature(item, "audio"), store.latest_feature(item, "speech")
    assert audio is not None and speech is not None
    assert audio[1]["partial"]["expected_seconds"] == pytest.approx(4.0, abs=0.05)
    # A few hundredths of a second (the encoder's quiet priming) said "Silence" before: nothing now.
    assert audio[1]["tags"] == [] and audio[1]["silence_score"] == 0.0 and audio[2] is None
    assert speech[1]["reason"] in (None, "undecodable audio"), speech[1]
    whole = store.latest_feature(str(by_name["tone.mp4"].item_id), "audio")
    assert whole is not None and "partial" not in whole[1]

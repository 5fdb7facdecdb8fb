"""The ingest pipeline's bookkeeping, with real media files and fake (cheap, counting) stages.

The fakes stand in for the model stages only, so that these tests check orchestration: discovery,
registration by content hash, skipping finished work, per-stage versions, and error isolation.
The real stages are exercised in tests/understand and in the demo test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from mediarec.pipeline import IngestOptions, discover, effective_versions, ingest
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.base import Extractor, Feature, ItemContext

pytest.importorskip("av", reason="needs the media extra: pip install 'mediarec[media]'")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="needs the media extra")


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-shortest",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(folder / "clip one.mp4"),
    )
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=3", str(folder / "tone.wav"))
    (folder / "notes.txt").write_text("not media")
    (folder / "fake.mp4").write_text("this is text, not video")
    return folder


class FakeStage(Extractor):
    """A fake stage: records each run and returns a tiny vector; ``fail_on`` makes it raise."""

    runs: ClassVar[list[tuple[str, str]]] = []

    def __init__(
        self,
        name: str,
        version: str = "v1",
        requires: tuple[str, ...] = (),
        needs_video: bool = False,
        fail_on: str | None = None,
    ) -> None:
        self.name = name  # type: ignore[misc]
        self._version = version
        self.requires = requires  # type: ignore[misc]
        self.needs_video = needs_video  # type: ignore[misc]
        self.fail_on = fail_on

    @property
    def version(self) -> str:
        return self._version

    def run(self, ctx: ItemContext) -> Feature:
        FakeStage.runs.append((self.name, ctx.path.name))
        if self.fail_on and self.fail_on in ctx.path.name:
            raise RuntimeError("model exploded")
        upstream = [ctx.require(r).payload["n"] for r in self.requires]
        return self.feature({"n": len(ctx.path.name) + sum(upstream)}, np.ones(3, dtype=np.float32))


def stages(**over: str) -> list[Extractor]:
    return [
        FakeStage("shots", over.get("shots", "v1"), needs_video=True),
        FakeStage("speech", over.get("speech", "v1")),
        FakeStage("text", over.get("text", "v1"), requires=("speech",)),
    ]


@pytest.fixture
def env(tmp_path: Path) -> tuple[Store, Settings]:
    FakeStage.runs.clear()
    settings = Settings(home=str(tmp_path / "home"))
    return Store(tmp_path / "home" / "mediarec.db"), settings


def test_discover_filters_folders_by_extension_but_tries_named_files(media: Path) -> None:
    entries, not_media, bad = discover([media, media / "notes.txt"])
    names = sorted(e.path.name for e in entries)
    assert names == ["clip one.mp4", "fake.mp4", "notes.txt", "tone.wav"]
    assert [Path(p).name for p in not_media] == ["notes.txt"] and not bad


def test_ingest_runs_applicable_stages_and_reports_broken_files(
    media: Path, env: tuple[Store, Settings]
) -> None:
    store, settings = env
    summary = ingest(store, settings, [media], IngestOptions(workers=0), extractors=stages())
    by_name = {Path(o.path).name: o for o in summary.outcomes}
    assert by_name["clip one.mp4"].status == "processed"
    assert by_name["clip one.mp4"].stages_run == ["shots", "speech", "text"]
    assert by_name["tone.wav"].stages_run == ["speech", "text"], "no shots for audio-only files"
    assert by_name["fake.mp4"].status == "failed" and "probe" in by_name["fake.mp4"].errors
    assert summary.not_media and store.counts()["items"] == 2
    errors = store.import_errors(summary.run_id)
    assert any("fake.mp4" in e.source for e in errors)
    item = by_name["clip one.mp4"].item_id
    assert item is not None
    assert store.latest_feature(item, "probe") is not None
    text = store.latest_feature(item, "text")
    assert text is not None and text[0] == "v1 <- speech=v1"


def test_second_run_does_no_work_and_renames_keep_the_item(
    media: Path, env: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = env
    first = ingest(store, settings, [media / "clip one.mp4"], IngestOptions(workers=0), extractors=stages())
    FakeStage.runs.clear()
    moved = tmp_path / "renamed ünïcode.mp4"
    shutil.copy(media / "clip one.mp4", moved)
    second = ingest(store, settings, [moved], IngestOptions(workers=0), extractors=stages())
    assert FakeStage.runs == [] and second.count("skipped") == 1
    assert second.outcomes[0].item_id == first.outcomes[0].item_id
    item = store.get_item(str(first.outcomes[0].item_id))
    assert item is not None and item.uri == str(moved)
    assert store.counts()["items"] == 1


def test_new_model_version_recomputes_its_stage_and_downstream_only(
    media: Path, env: tuple[Store, Settings]
) -> None:
    store, settings = env
    path = media / "clip one.mp4"
    ingest(store, settings, [path], IngestOptions(workers=0), extractors=stages())
    FakeStage.runs.clear()
    summary = ingest(store, settings, [path], IngestOptions(workers=0), extractors=stages(speech="v2"))
    assert [name for name, _ in FakeStage.runs] == ["speech", "text"]
    item = str(summary.outcomes[0].item_id)
    assert store.feature_versions(item, "speech") == ["v1", "v2"], "the old version is kept, not overwritten"
    latest = store.latest_feature(item, "text")
    assert latest is not None and latest[0] == "v1 <- speech=v2"


def test_a_failing_stage_spares_the_others_and_retries_next_time(
    media: Path, env: tuple[Store, Settings]
) -> None:
    store, settings = env
    exs = stages()
    exs[1] = FakeStage("speech", fail_on="tone")
    summary = ingest(store, settings, [media], IngestOptions(workers=0), extractors=exs)
    tone = next(o for o in summary.outcomes if o.path.endswith("tone.wav"))
    clip = next(o for o in summary.outcomes if o.path.endswith("clip one.mp4"))
    assert "model exploded" in tone.errors["speech"] and "did not run" in tone.errors["text"]
    assert clip.stages_run == ["shots", "speech", "text"]
    FakeStage.runs.clear()
    ingest(store, settings, [media / "tone.wav"], IngestOptions(workers=0), extractors=stages())
    assert [n for n, _ in FakeStage.runs] == ["speech", "text"], "failed stages run again; nothing else"


def test_manifest_gives_ids_and_metadata(media: Path, env: tuple[Store, Settings], tmp_path: Path) -> None:
    store, settings = env
    manifest = tmp_path / "manifest.jsonl"
    rows = [
        {
            "file": str(media / "tone.wav"),
            "id": "tone-1",
            "title": "A tone",
            "creator": "lab",
            "tags": ["test"],
            "truth": {"secret": 1},
        },
        {"title": "no file"},
        "not an object",
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    entries, _, bad = discover([manifest])
    assert len(entries) == 1 and len(bad) == 3
    ingest(store, settings, [manifest], IngestOptions(workers=0), extractors=stages())
    item = store.get_item("tone-1")
    assert item is not None and item.title == "A tone" and item.creator == "lab" and item.kind == "audio"
    assert item.metadata == {"tags": ["test"]}, "ground truth is not item metadata"


def test_process_pool_stores_the_same_features(
    media: Path, env: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = env
    pooled = ingest(store, settings, [media], IngestOptions(workers=2), extractors=stages())
    other = Store(tmp_path / "other.db")
    inline = ingest(other, settings, [media], IngestOptions(workers=0), extractors=stages())
    assert [o.status for o in pooled.outcomes] == [o.status for o in inline.outcomes]
    for a, b in zip(pooled.outcomes, inline.outcomes, strict=True):
        if a.item_id is None:
            continue
        assert a.stages_run == b.stages_run
        for stage in a.stages_run:
            fa, fb = store.latest_feature(a.item_id, stage), other.latest_feature(str(b.item_id), stage)
            assert fa is not None and fb is not None and fa[1] == fb[1]


def test_effective_versions_chain() -> None:
    v = effective_versions(stages(speech="s9"))
    assert v == {"shots": "v1", "speech": "s9", "text": "v1 <- speech=s9"}


def test_broken_file_corpus_is_accounted_for_and_changes_nothing_stored(
    media: Path, env: tuple[Store, Settings], tmp_path: Path
) -> None:
    from tests.media.fixtures import build_corpus, within

    store, settings = env
    first = ingest(store, settings, [media / "clip one.mp4"], IngestOptions(workers=0), extractors=stages())
    item = str(first.outcomes[0].item_id)
    before = {s: store.latest_feature(item, s) for s in ("probe", "shots", "speech", "text")}
    corpus = build_corpus(tmp_path / "corpus")
    files = [c.path for c in corpus.values() if not c.path.is_dir() or c.path.is_symlink()]
    summary = within(
        120, lambda: ingest(store, settings, files, IngestOptions(workers=0), extractors=stages())
    )
    by_path = {o.path: o for o in summary.outcomes}
    for name, case in corpus.items():
        if case.path not in files:
            continue
        outcome = by_path[str(case.path)]
        if case.error is None:
            assert outcome.status in ("processed", "skipped"), (name, outcome.errors)
        else:
            assert outcome.status == "failed", name
            assert case.error in outcome.errors["probe"], (name, outcome.errors)
    after = {s: store.latest_feature(item, s) for s in before}
    for stage, old in before.items():
        new = after[stage]
        assert old is not None and new is not None and old[0] == new[0] and old[1] == new[1], stage
    logged = {e.source for e in store.import_errors(summary.run_id)}
    assert {o.path for o in summary.outcomes if o.status == "failed"} <= logged

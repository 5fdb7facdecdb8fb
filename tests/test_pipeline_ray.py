"""``ingest`` on Ray (setting ``ray_address``) against the local path, on a real local Ray instance.

No mock of Ray: one local instance (2 CPUs, no dashboard) is started for the module and shut down
at the end; ``ingest`` finds it initialised and uses it. The orchestration tests use the fake,
counting stages of tests/test_pipeline.py (named Fake*); the feature test runs the real models on a
seeded sample of demo clips and is marked heavy.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediarec.pipeline import IngestOptions, IngestSummary, ingest
from mediarec.ray_cluster import RaySetupError
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.base import Extractor, Feature, ItemContext

pytest.importorskip("av", reason="needs the media extra: pip install 'mediarec[media]'")
ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'mediarec[ray]'")

from tests.media.fixtures import ffmpeg, truncate_copy  # noqa: E402
from tests.test_pipeline import FakeStage, stages  # noqa: E402


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good files and four broken ones (text named .mp4, empty, truncated, a dangling link)."""
    folder = tmp_path_factory.mktemp("mixed")
    good = folder / "good clip.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=1.5", "-f", "lavfi", "-i", "sine=f=440:r=48000"),
        *("-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        good,
    )
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=2", folder / "tone.wav")
    (folder / "text.mp4").write_text("this is text, not video")
    (folder / "empty.mp4").write_bytes(b"")
    truncate_copy(good, folder / "truncated.mp4", 600)
    (folder / "dangling.mp4").symlink_to(folder / "nowhere.mp4")
    return folder


def _settings(home: Path, **over: Any) -> Settings:
    return Settings(home=str(home), **over)


def _stored(store: Store, summary: IngestSummary) -> dict[str, Any]:
    """Per file: status, stages run, errors, and every stored feature's version and payload."""
    out: dict[str, Any] = {}
    for o in summary.outcomes:
        feats = {}
        if o.item_id is not None:
            for stage in sorted(store.feature_keys(o.item_id)):
                found = store.latest_feature(o.item_id, stage)
                assert found is not None
                version, payload, vector = found
                feats[stage] = (version, payload, None if vector is None else vector.tolist())
        out[Path(o.path).name] = (o.status, o.stages_run, o.errors, feats)
    return out


def test_ray_and_local_paths_store_the_same_results_and_errors(
    ray_local: Any, mixed: Path, tmp_path: Path
) -> None:
    local_store = Store(tmp_path / "local" / "mediarec.db")
    local = ingest(local_store, _settings(tmp_path / "local"), [mixed], IngestOptions(workers=2), stages())
    ray_store = Store(tmp_path / "ray" / "mediarec.db")
    FakeStage.runs.clear()
    on_ray = ingest(
        ray_store, _settings(tmp_path / "ray", ray_address="local"), [mixed], IngestOptions(), stages()
    )
    assert FakeStage.runs == [] and on_ray.count("processed") == 2, "the stages ran in Ray actors"
    assert _stored(ray_store, on_ray) == _stored(local_store, local)
    by_name = {Path(o.path).name: o for o in on_ray.outcomes}
    assert by_name["good clip.mp4"].stages_run == ["shots", "speech", "text"]
    for broken in ("text.mp4", "empty.mp4", "truncated.mp4", "dangling.mp4"):
        assert by_name[broken].status == "failed" and by_name[broken].errors, broken
    logged = sorted((e.source, e.reason) for e in ray_store.import_errors(on_ray.run_id))
    assert logged == sorted((e.source, e.reason) for e in local_store.import_errors(local.run_id))

    again = ingest(
        ray_store, _settings(tmp_path / "ray", ray_address="local"), [mixed], IngestOptions(), stages()
    )
    assert again.count("processed") == 0 and again.count("skipped") == 2, "a rerun does no work"
    assert all(not o.stages_run for o in again.outcomes)
    assert _stored(ray_store, again) == {
        k: ("skipped" if v[0] == "processed" else v[0], [], v[2], v[3])
        for k, v in _stored(ray_store, on_ray).items()
    }


class FakeDyingStage(Extractor):
    """A fake stage whose process dies (as one killed for memory would) on files named ``die*``."""

    name = "fakedying"  # type: ignore[misc]
    version = "1"  # type: ignore[assignment]

    def run(self, ctx: ItemContext) -> Feature:
        if ctx.path.name.startswith("die"):
            os._exit(1)
        return self.feature({"name": ctx.path.name})


def test_an_actor_that_dies_fails_only_its_file(ray_local: Any, mixed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.wav", "die.wav", "z.wav"):
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={200 + len(name) * 50 + ord(name[0])}:duration=1",
            folder / name,
        )
    store = Store(tmp_path / "home" / "mediarec.db")
    settings = _settings(tmp_path / "home", ray_address="local", ray_workers=1)
    summary = ingest(store, settings, [folder], IngestOptions(), [FakeDyingStage()])
    by_name = {Path(o.path).name: o for o in summary.outcomes}
    assert by_name["die.wav"].status == "failed" and "worker" in by_name["die.wav"].errors
    assert by_name["a.wav"].status == by_name["z.wav"].status == "processed", "the actor came back"


def test_a_node_that_cannot_see_the_kit_fails_the_run_clearly(
    ray_local: Any, mixed: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-kit"
    settings = _settings(tmp_path / "home", ray_address="local", kit_dir=str(missing))
    store = Store(tmp_path / "home" / "mediarec.db")
    with pytest.raises(RaySetupError) as caught:
        ingest(store, settings, [mixed / "tone.wav"], IngestOptions())  # the real stages: they need the kit
    message = str(caught.value)
    node = ray.nodes()[0]
    assert f"Ray node {node['NodeManagerAddress']} (node {node['NodeID'][:12]})" in message
    assert f"cannot see the model kit folder {missing}" in message and "shared filesystem" in message


def test_a_bad_ray_address_is_refused_before_any_work(tmp_path: Path, mixed: Path) -> None:
    store = Store(tmp_path / "home" / "mediarec.db")
    with pytest.raises(RaySetupError, match="ray_address = 'lcoal'"):
        ingest(store, _settings(tmp_path / "home", ray_address="lcoal"), [mixed], IngestOptions(), stages())
    assert store.counts()["items"] == 0


@pytest.mark.heavy
def test_ray_path_stores_the_same_real_features_as_the_local_path(
    ray_local: Any, demo_media: Any, shared_kit: Settings, tmp_path: Path
) -> None:
    """The real models on two seeded demo clips: every stored payload and vector equal."""
    clips = sorted(Path(demo_media.out_dir).glob("*-[0-9].mp4"))
    sample = random.Random(7).sample(clips, 2)
    folder = tmp_path / "sample"
    folder.mkdir()
    for clip in sample:
        shutil.copy(clip, folder / clip.name)
    kit = {"kit_dir": shared_kit.kit_dir}
    local_store = Store(tmp_path / "local" / "mediarec.db")
    # Two workers on both paths: the same thread share per model, so the same arithmetic.
    local = ingest(local_store, _settings(tmp_path / "local", **kit), [folder], IngestOptions(workers=2))
    ray_store = Store(tmp_path / "ray" / "mediarec.db")
    on_ray = ingest(
        ray_store, _settings(tmp_path / "ray", ray_address="local", **kit), [folder], IngestOptions()
    )
    a, b = _stored(local_store, local), _stored(ray_store, on_ray)
    assert a.keys() == b.keys() and all(v[0] == "processed" for v in b.values())
    for name in a:
        assert a[name][1] == b[name][1] and a[name][2] == b[name][2] == {}, name
        for stage, (version, payload, vector) in a[name][3].items():
            other = b[name][3][stage]
            assert other[0] == version, (name, stage)
            assert _same_payload(other[1], payload), (name, stage)
            if vector is not None:
                np.testing.assert_allclose(other[2], vector, rtol=0, atol=1e-5, err_msg=f"{name} {stage}")


def _same_payload(a: Any, b: Any) -> bool:
    """Equal, floats to within 1e-4 (kept in case a runtime's reduction order varies by run)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_payload(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_payload(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-4
    return a == b


def test_without_the_ray_package_the_error_names_the_extra(
    tmp_path: Path, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed: `import ray` fails
    store = Store(tmp_path / "home" / "mediarec.db")
    with pytest.raises(RaySetupError, match=re.escape("needs the Ray package: pip install 'mediarec[ray]'")):
        ingest(store, _settings(tmp_path / "home", ray_address="local"), [mixed], IngestOptions(), stages())
    assert store.counts()["items"] == 0

"""Installing the small models for real: manifests, checksums, tampering, idempotence."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from mediarec.kit import DEFAULT_MODELS, InstallResult, install, sha256_file, spec, verify
from mediarec.kit.install import quick_check
from mediarec.settings import Settings

pytestmark = pytest.mark.heavy


def test_small_models_are_assembled_with_manifests(shared_kit: Settings) -> None:
    root = Path(shared_kit.kit_dir)
    for name in DEFAULT_MODELS:
        model = spec(name)
        folder = root / name
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["name"] == name and manifest["licence"] == model.licence
        assert [(p["name"], p["version"]) for p in manifest["packages"]] == [
            (p.name, p.version) for p in model.packages
        ]
        assert all(len(p["sha256"]) == 64 and p["wheel"].endswith(".whl") for p in manifest["packages"])
        assert set(manifest["files"]) == {f.dest for f in model.files}
        for dest, entry in manifest["files"].items():
            assert (folder / dest).stat().st_size == entry["size"]
            assert sha256_file(folder / dest) == entry["sha256"]
            if dest in model.expected_sha256:
                assert entry["sha256"] == model.expected_sha256[dest]
        assert manifest["size"] == sum(e["size"] for e in manifest["files"].values())
        assert verify(shared_kit.home_path, name, shared_kit) == []
    assert not list(root.glob(".tmp-*")) and not list(root.glob(".scratch-*"))


def test_split_and_derived_files(shared_kit: Settings) -> None:
    root = Path(shared_kit.kit_dir)
    whisper = root / "whisper-base"
    assert (whisper / "model.bin").stat().st_size == 2 * 72_608_766  # both parts, joined
    labels = (root / "efficientnet-lite0" / "imagenet_class_map.csv").read_text().splitlines()
    assert labels[0] == "index,wnid,display_name" and len(labels) == 1001
    assert labels[1] == '0,n01440764,"tench, Tinca tinca"'
    assert labels[653].startswith("652,n03763968,military uniform")
    audio = (root / "yamnet" / "yamnet_class_map.csv").read_text().splitlines()
    assert audio[0] == "index,mid,display_name" and len(audio) == 522
    quant = json.loads((root / "yamnet" / "quantization.json").read_text())
    assert quant["input"]["zero_point"] == 144 and quant["output"]["zero_point"] == 190
    assert quant["input"]["scale"] == pytest.approx(0.0479379, rel=1e-5)
    assert (root / "minilm" / "1_Pooling" / "config.json").is_file()


def test_reinstall_is_a_fast_no_op(
    shared_kit: Settings, kit_install: tuple[Settings, list[InstallResult]]
) -> None:
    root = Path(shared_kit.kit_dir)
    before = {n: (root / n / "manifest.json").stat().st_mtime_ns for n in DEFAULT_MODELS}
    start = time.perf_counter()
    results = install(shared_kit.home_path, DEFAULT_MODELS, settings=shared_kit, runtime=False)
    assert time.perf_counter() - start < 15  # re-hashing ~290 MB, no pip
    assert [r.status for r in results] == ["present"] * len(DEFAULT_MODELS)
    assert {n: (root / n / "manifest.json").stat().st_mtime_ns for n in DEFAULT_MODELS} == before
    assert [r.size for r in results] == [r.size for r in kit_install[1]]


def test_tampered_file_fails_verify_and_install_repairs_it(shared_kit: Settings, tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path / "home"), kit_dir=str(tmp_path / "kit"))
    folder = tmp_path / "kit" / "yamnet"
    shutil.copytree(Path(shared_kit.kit_dir) / "yamnet", folder)
    assert verify(settings.home_path, "yamnet", settings) == []
    data = bytearray((folder / "model.data").read_bytes())
    data[1000] ^= 0xFF  # same size: only the checksum can tell
    (folder / "model.data").write_bytes(bytes(data))
    assert verify(settings.home_path, "yamnet", settings) == ["model.data: sha256 differs from the manifest"]
    assert quick_check(folder, spec("yamnet"))  # the cheap check cannot see it...
    (folder / "yamnet_class_map.csv").write_text("index,mid,display_name\n")
    problems = verify(settings.home_path, "yamnet", settings)
    assert any("yamnet_class_map.csv: size" in p for p in problems)
    assert not quick_check(folder, spec("yamnet"))  # ...a size change it can
    (folder / "model.onnx").unlink()
    assert "model.onnx: missing" in verify(settings.home_path, "yamnet", settings)

    (result,) = install(settings.home_path, ["yamnet"], settings=settings, runtime=False)
    assert result.status == "installed"
    assert verify(settings.home_path, "yamnet", settings) == []
    assert sha256_file(folder / "model.data") == sha256_file(
        Path(shared_kit.kit_dir) / "yamnet" / "model.data"
    )


def test_manifest_for_other_pins_is_reinstalled(shared_kit: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "kit" / "rapidocr"
    shutil.copytree(Path(shared_kit.kit_dir) / "rapidocr", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["packages"][0]["version"] = "1.3.0"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    settings = Settings(home=str(tmp_path), kit_dir=str(tmp_path / "kit"))
    assert "not this kit's pins" in verify(settings.home_path, "rapidocr", settings)[0]
    (result,) = install(settings.home_path, ["rapidocr"], settings=settings, runtime=False)
    assert result.status == "installed" and verify(settings.home_path, "rapidocr", settings) == []

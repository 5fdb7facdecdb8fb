"""model_dir, model_file and list_models on a faked kit (no downloads)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mediarec.kit import ModelNotInstalled, Runtime, kit_root, list_models, model_dir, model_file, spec
from mediarec.kit.install import _write_manifest
from mediarec.settings import Settings, load_settings


def fake_install(root: Path, name: str) -> Path:
    """A kit folder with dummy files and a real manifest (valid for the quick size check)."""
    model = spec(name)
    folder = root / name
    for fs in model.files:
        (folder / fs.dest).parent.mkdir(parents=True, exist_ok=True)
        (folder / fs.dest).write_bytes(fs.dest.encode())
    provenance = [
        {"name": p.name, "version": p.version, "wheel": "x.whl", "sha256": "0" * 64} for p in model.packages
    ]
    _write_manifest(dataclasses.replace(model, expected_sha256={}), folder, provenance)
    return folder


@pytest.fixture(autouse=True)
def _no_env_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAREC_KIT_DIR", raising=False)


def test_kit_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kit_root(tmp_path) == tmp_path / "kit"
    monkeypatch.setenv("MEDIAREC_KIT_DIR", str(tmp_path / "env"))
    assert kit_root(tmp_path) == tmp_path / "env"
    assert load_settings(tmp_path).kit_dir == str(tmp_path / "env")  # the settings table sees it too
    assert kit_root(tmp_path, Settings(kit_dir=str(tmp_path / "set"))) == tmp_path / "set"


def test_model_dir_finds_the_kit_copy(tmp_path: Path) -> None:
    folder = fake_install(tmp_path / "kit", "yamnet")
    assert model_dir("yamnet", tmp_path, check_runtime=False) == folder
    assert model_file("yamnet", tmp_path, check_runtime=False) == folder / "model.onnx"
    shared = Settings(kit_dir=str(tmp_path / "kit"))
    assert model_dir("yamnet", tmp_path / "other-home", shared, check_runtime=False) == folder


def test_missing_model_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match=r"'whisper-base' \(speech\).*run `mediarec models install`"):
        model_dir("whisper-base", tmp_path)
    with pytest.raises(ModelNotInstalled, match=r"models install --llm fast"):
        model_dir("qwen-0.5b", tmp_path)
    folder = fake_install(tmp_path / "kit", "minilm")
    (folder / "vocab.txt").write_text("changed size")
    with pytest.raises(ModelNotInstalled, match="not installed"):
        model_dir("minilm", tmp_path, check_runtime=False)


def test_settings_override_with_a_folder_or_a_kit_name(tmp_path: Path) -> None:
    mine = tmp_path / "my-whisper"
    mine.mkdir()
    settings = Settings(home=str(tmp_path), whisper_model=str(mine))
    assert model_dir("whisper-base", tmp_path, settings, check_runtime=False) == mine
    with pytest.raises(ModelNotInstalled, match=r"whisper_model = .*no such folder"):
        model_dir("whisper-base", tmp_path, Settings(whisper_model=str(tmp_path / "nope")))

    quality = Settings(home=str(tmp_path), llm_model="qwen-1.5b")
    with pytest.raises(ModelNotInstalled, match=r"'qwen-1.5b'.*--llm quality"):
        model_dir("qwen-0.5b", tmp_path, quality, check_runtime=False)
    folder = fake_install(tmp_path / "kit", "qwen-1.5b")
    assert model_dir("qwen-0.5b", tmp_path, quality, check_runtime=False) == folder
    assert model_file("qwen-0.5b", tmp_path, quality, check_runtime=False).name.endswith(
        "1.5b-instruct-q4_k_m.gguf"
    )

    ggufs = tmp_path / "my-llm"
    ggufs.mkdir()
    (ggufs / "other.gguf").write_bytes(b"GGUF")
    custom = Settings(llm_model=str(ggufs))
    assert model_file("qwen-0.5b", tmp_path, custom, check_runtime=False) == ggufs / "other.gguf"


def test_missing_runtime_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_install(tmp_path / "kit", "yamnet")
    monkeypatch.setattr(
        "mediarec.kit.locate.missing_runtime", lambda model: [Runtime("onnxruntime>=1.17", "onnxruntime")]
    )
    with pytest.raises(
        ModelNotInstalled, match=r"needs onnxruntime>=1.17: pip install 'mediarec\[understand\]'"
    ):
        model_dir("yamnet", tmp_path)
    fake_install(tmp_path / "kit", "qwen-0.5b")
    with pytest.raises(ModelNotInstalled, match=r"mediarec\[llm\]"):
        model_dir("qwen-0.5b", tmp_path)


def test_list_models_rows(tmp_path: Path) -> None:
    fake_install(tmp_path / "kit", "rapidocr")
    rows = {r.name: r for r in list_models(tmp_path)}
    assert list(rows) == [
        "whisper-base",
        "efficientnet-lite0",
        "rapidocr",
        "yamnet",
        "minilm",
        "qwen-0.5b",
        "qwen-1.5b",
    ]
    assert rows["rapidocr"].installed and rows["rapidocr"].size == sum(
        len(f.dest) for f in spec("rapidocr").files
    )
    assert rows["rapidocr"].path == tmp_path / "kit" / "rapidocr"
    assert not rows["whisper-base"].installed and rows["whisper-base"].size == 145_000_000
    assert rows["qwen-1.5b"].optional and not rows["minilm"].optional
    assert all(r.licence for r in rows.values())


def test_kit_import_is_light() -> None:
    import subprocess
    import sys

    heavy = "{'torch', 'onnxruntime', 'faster_whisper', 'llama_cpp'}"
    code = f"import sys, mediarec.kit; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

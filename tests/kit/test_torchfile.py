"""Reading PyTorch weights without torch: the kit's pinned EfficientNet file, both of torch's file
layouts where torch happens to be installed, and refusal of anything but tensors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mediarec.kit._torchfile import _LEGACY_MAGIC, load_state_dict
from mediarec.settings import Settings


class _Hostile:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo this must never run",))


def test_a_weights_file_with_code_in_it_is_refused() -> None:
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    stream = b"".join(pickle.dumps(x) for x in (_LEGACY_MAGIC, 1001, info, {"w": _Hostile()}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing posix\.system"):
        load_state_dict(stream)
    with pytest.raises(ValueError, match="bad magic"):
        load_state_dict(pickle.dumps(123))


@pytest.mark.heavy
def test_the_kits_efficientnet_weights_read_without_torch(shared_kit: Settings) -> None:
    weights = load_state_dict(Path(shared_kit.kit_dir) / "efficientnet-lite0" / "efficientnet-lite0.pth")
    assert len(weights) == 296
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_fc.weight"].shape == (1000, 1280) and weights["_fc.weight"].dtype == np.float32
    assert weights["_bn0.num_batches_tracked"].dtype == np.int64
    assert weights["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert np.isfinite(weights["_fc.weight"]).all() and weights["_bn0.running_var"].min() >= 0


@pytest.mark.heavy
def test_both_layouts_match_torch_load_when_torch_is_installed(shared_kit: Settings, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    legacy = Path(shared_kit.kit_dir) / "efficientnet-lite0" / "efficientnet-lite0.pth"
    want = torch.load(legacy, map_location="cpu", weights_only=True)
    zipped = tmp_path / "zip.pth"
    want["strided"] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()  # a non-contiguous view
    torch.save(want, zipped)
    got = load_state_dict(zipped)
    assert list(got) == list(want)
    for key, tensor in want.items():
        assert np.array_equal(got[key], tensor.numpy()), key
    del want["strided"]
    got = load_state_dict(legacy)
    assert list(got) == list(want) and all(np.array_equal(got[k], v.numpy()) for k, v in want.items())

"""The text and vision stages run without torch (the understand extra no longer installs it).

The shared virtualenv may still hold torch from an older install, so the check runs in a child
interpreter where ``import torch`` (and the PyTorch EfficientNet port, transformers and
sentence-transformers) raises ImportError: any code path that still reached for them would fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mediarec.settings import Settings

pytestmark = pytest.mark.heavy  # loads MiniLM and EfficientNet-Lite0

_CHILD = r"""
import json, sys
for name in ("torch", "efficientnet_lite_pytorch", "transformers", "sentence_transformers"):
    sys.modules[name] = None  # any import of these now raises ImportError
import numpy as np
from PIL import Image
from mediarec.settings import Settings
from mediarec.understand.text import MiniLM
from mediarec.understand.vision import VisionExtractor
from mediarec.features.text import dataset_text_vectors
from mediarec.records import ItemRecord

settings = Settings(home=sys.argv[1], kit_dir=sys.argv[2])
vectors = MiniLM.from_settings(settings).encode(["a cat on a mat", "stock prices fell"])
stage = VisionExtractor(settings)
stage._load()
probs, pooled = stage._forward([stage._tensor(Image.new("RGB", (320, 240), (200, 30, 30)))])
items = [ItemRecord(external_id="m1", title="Toy Story", metadata={"description": "Toys come alive."})]
cached = dataset_text_vectors(items, "no-torch", settings, cache_dir=sys.argv[1])
loaded = sorted(m for m in ("torch", "efficientnet_lite_pytorch", "onnx") if sys.modules.get(m) is not None)
print(json.dumps({
    "text": list(vectors.shape), "norm": float(np.linalg.norm(vectors[0])),
    "probs": list(probs.shape), "pooled": list(pooled.shape), "cached": list(cached.vectors.shape),
    "loaded": loaded,
}))
"""


def test_text_and_vision_stages_never_import_torch(shared_kit: Settings, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path), str(shared_kit.kit_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["text"] == [2, 384] and out["norm"] == pytest.approx(1.0, abs=1e-5)
    assert out["probs"][0] == 1 and out["pooled"] == [1, 1280] and out["cached"] == [1, 384]
    # Not even the graph builder: the kit's prebuilt .onnx files are loaded as they are.
    assert out["loaded"] == []

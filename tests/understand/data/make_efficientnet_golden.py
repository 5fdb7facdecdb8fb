"""Writes efficientnet_golden.json: what the former torch path of the vision stage gave for three real
photos (top-5 logits, the first 16 embedding values and the embedding's norm). Run once by hand, in
an environment that has torch and efficientnet-lite-pytorch; the tests compare the ONNX path to it.

    MEDIAREC_KIT_DIR=.kit python tests/understand/data/make_efficientnet_golden.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent.parent))
from tests.understand.test_vision import _skimage_picture  # noqa: E402

from mediarec.kit import model_dir  # noqa: E402
from mediarec.settings import Settings  # noqa: E402
from mediarec.understand.vision import VisionExtractor  # noqa: E402


def photos() -> dict[str, Image.Image]:
    import matplotlib

    with tempfile.TemporaryDirectory() as tmp:
        found = {name: _skimage_picture(name, Path(tmp)) for name in ("chelsea", "coffee")}
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    found["grace_hopper"] = Image.open(hopper).convert("RGB")
    return found


def main() -> None:
    settings = Settings(home=tempfile.mkdtemp())
    folder = model_dir("efficientnet-lite0", settings.home_path, settings, check_runtime=False)
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(folder / "efficientnet-lite0.pth", map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval()
    stage = VisionExtractor(settings)  # only its preprocessing (_tensor) is used
    out = {"made_by": f"torch {torch.__version__}, efficientnet-lite-pytorch 0.1.0", "photos": {}}
    for name, image in photos().items():
        x = torch.from_numpy(stage._tensor(image)[None])
        with torch.inference_mode():
            pooled = net.extract_features(x).mean(dim=(2, 3))
            logits = net._fc(pooled)[0].numpy()
        top = np.argsort(-logits)[:5]
        emb = pooled[0].numpy()
        out["photos"][name] = {
            "top5": [[int(i), float(logits[i])] for i in top],
            "embedding_head": [float(v) for v in emb[:16]],
            "embedding_norm": float(np.linalg.norm(emb)),
        }
    (HERE / "efficientnet_golden.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""The vision stage: keyframes from the shots payload, labels for known photos, embeddings that
group pictures of the same thing, duration-weighted pooling.

Photos come from scikit-image's bundled data (``chelsea``, a tabby cat; ``coffee``, an espresso cup):
from the installed package, else read straight out of its wheel, fetched once with pip into
pytest's cache. Model tests are ``heavy`` and skip, with the reason, without onnxruntime or the kit.
The model runs in onnxruntime; ``data/efficientnet_golden.json`` holds what the former torch path
gave for three real photos, and the ONNX path must reproduce it.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mediarec.kit import ModelNotInstalled
from mediarec.records import MediaInfo
from mediarec.settings import Settings
from mediarec.understand.base import ExtractorError, Feature, ItemContext
from mediarec.understand.vision import EMBED_DIM, VisionExtractor, VisionOptions, keyframe_images, keyframes

CAT_LABELS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


# -- helpers shared with test_ocr -------------------------------------------------------------


def fake_item_context(
    folder: Path,
    pictures: Sequence[tuple[Image.Image | None, float]],
    video: Path | None = None,
    thumb_side: int = 320,
) -> ItemContext:
    """A fake of the pipeline's ItemContext: one shot per (picture, duration), back to back from 0 s,
    its keyframe the picture saved as the shots stage saves thumbnails (JPEG, at most ``thumb_side``
    px a side). A None picture is a shot without a thumbnail. ``video`` is the item's file, if any."""
    folder.mkdir(parents=True, exist_ok=True)
    shots: list[dict[str, Any]] = []
    start = 0.0
    for i, (picture, duration) in enumerate(pictures):
        path = None
        if picture is not None:
            thumb = picture.convert("RGB")
            thumb.thumbnail((thumb_side, thumb_side))
            path = str(folder / f"shot_{i:04d}.jpg")
            thumb.save(path, format="JPEG", quality=85)
        end = start + duration
        shots.append(
            {
                "index": i,
                "start": start,
                "end": end,
                "start_frame": round(start * 25),
                "end_frame": round(end * 25),
                "keyframe_time": (start + end) / 2,
                "keyframe_path": path,
            }
        )
        start = end
    target = video or folder / "no-such-video.mp4"
    info = MediaInfo(str(target), 1, "mp4", start, has_video=True, has_audio=False)
    shots_feature = Feature("shots", "fake/0", {"shots": shots})
    return ItemContext("fake-item", target, info, work_dir=folder, features={"shots": shots_feature})


def _skimage_picture(name: str, cache_dir: Path) -> Image.Image:
    try:
        from skimage import data
    except ImportError:
        pass
    else:
        return Image.fromarray(getattr(data, name)()).convert("RGB")
    wheels = sorted(cache_dir.glob("scikit_image-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
        done = subprocess.run(
            [*cmd, "-d", str(cache_dir), "scikit-image"], capture_output=True, text=True, timeout=600
        )
        wheels = sorted(cache_dir.glob("scikit_image-*.whl"))
        if not wheels:
            pytest.skip(f"scikit-image is not installed and pip could not fetch it: {done.stderr[-300:]}")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return Image.open(io.BytesIO(wheel.read(f"skimage/data/{name}.png"))).convert("RGB")


@pytest.fixture(scope="session")
def photos(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Image.Image]:
    """scikit-image's ``chelsea`` (a tabby cat) and ``coffee`` (an espresso cup)."""
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir("scikit-image-wheel") if cache else tmp_path_factory.mktemp("skimage")
    return {name: _skimage_picture(name, Path(folder)) for name in ("chelsea", "coffee")}


# -- keyframes: no model needed ---------------------------------------------------------------


def test_keyframes_follow_the_shots_payload(tmp_path: Path) -> None:
    grey = Image.new("RGB", (64, 48), "grey")
    ctx = fake_item_context(tmp_path, [(grey, 2.0), (grey, 6.0), (None, 4.0)])
    frames = keyframes(ctx)
    assert [(k.shot, k.time, k.weight) for k in frames] == [(0, 1.0, 2.0), (1, 5.0, 6.0), (2, 10.0, 4.0)]
    assert frames[0].path and frames[2].path is None
    assert [k.shot for k in keyframes(ctx, limit=2)] == [0, 2]  # spread evenly, ends kept


def test_keyframes_without_shots_use_the_middle_frame(tmp_path: Path) -> None:
    ctx = fake_item_context(tmp_path, [])
    ctx.info = MediaInfo("x.mp4", 1, "mp4", 30.0, has_video=True, has_audio=False)
    assert [(k.time, k.weight, k.path) for k in keyframes(ctx)] == [(15.0, 1.0, None)]


def test_zero_length_shots_count_equally(tmp_path: Path) -> None:
    grey = Image.new("RGB", (64, 48), "grey")
    ctx = fake_item_context(tmp_path, [(grey, 0.0), (grey, 0.0)])
    assert [k.weight for k in keyframes(ctx)] == [1.0, 1.0]


def test_keyframe_images_are_rgb_thumbnails(tmp_path: Path) -> None:
    ctx = fake_item_context(tmp_path, [(Image.new("L", (800, 400), 128), 1.0)])
    ((k, image),) = list(keyframe_images(ctx, keyframes(ctx)))
    assert image.mode == "RGB" and image.size == (320, 160) and k.shot == 0


def test_a_keyframe_with_no_thumbnail_and_no_video_fails_clearly(tmp_path: Path) -> None:
    ctx = fake_item_context(tmp_path, [(None, 1.0)])
    with pytest.raises(ExtractorError, match="keyframe of shot 0"):
        list(keyframe_images(ctx, keyframes(ctx)))


def test_an_undecodable_video_falls_back_to_the_thumbnails(tmp_path: Path) -> None:
    ctx = fake_item_context(tmp_path, [(Image.new("RGB", (64, 48), "red"), 1.0)])  # its video is missing
    ((_, image),) = list(keyframe_images(ctx, keyframes(ctx), from_video=True))
    assert image.size == (64, 48)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        VisionOptions(batch_size=0)
    with pytest.raises(ValueError):
        VisionOptions(crop_fraction=1.5)


def test_construction_loads_nothing_and_a_missing_kit_is_named(tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path / "home"), kit_dir=str(tmp_path / "empty-kit"))
    stage = VisionExtractor(settings)  # what the pipeline does in the parent: must stay cheap
    assert (stage.name, stage.requires, stage.needs_video, stage.dim) == ("vision", ("shots",), True, 1280)
    assert stage.version == "efficientnet-lite0/1"
    ctx = fake_item_context(tmp_path / "item", [(Image.new("RGB", (64, 48)), 1.0)])
    with pytest.raises(ModelNotInstalled, match="efficientnet-lite0"):
        stage.run(ctx)


# -- the model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vision(shared_kit: Settings) -> VisionExtractor:
    pytest.importorskip("onnxruntime", reason="the vision stage needs onnxruntime (the understand extra)")
    return VisionExtractor(shared_kit, VisionOptions(threads=2))


def _names(labels: list[dict[str, Any]]) -> list[str]:
    return [label["name"] for label in labels]


def _vector(feat: Feature) -> np.ndarray:
    assert feat.vector is not None
    return feat.vector


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.heavy
def test_a_cat_photo_gets_a_cat_label(vision: VisionExtractor, photos: dict, tmp_path: Path) -> None:
    feat = vision.run(fake_item_context(tmp_path, [(photos["chelsea"], 5.0)]))
    labels = feat.payload["labels"]
    assert len(labels) == 5 and CAT_LABELS & set(_names(labels)), labels
    assert labels[0]["name"] in CAT_LABELS
    assert all(0.0 <= label["score"] <= 1.0 for label in labels)
    (frame,) = feat.payload["keyframes"]
    assert (frame["time"], frame["shot"], len(frame["labels"])) == (2.5, 0, 3)
    assert feat.vector is not None and feat.vector.shape == (EMBED_DIM,) and feat.vector.dtype == np.float32
    json.dumps(feat.payload)  # the store writes it as JSON


@pytest.mark.heavy
def test_a_coffee_photo_gets_espresso(vision: VisionExtractor, photos: dict, tmp_path: Path) -> None:
    feat = vision.run(fake_item_context(tmp_path, [(photos["coffee"], 5.0)]))
    names = _names(feat.payload["labels"])
    assert {"espresso", "cup", "coffee mug"} & set(names[:5]), names
    assert names[0] == "espresso"


@pytest.mark.heavy
def test_crops_of_one_photo_are_closer_than_different_photos(
    vision: VisionExtractor, photos: dict, tmp_path: Path
) -> None:
    cat = photos["chelsea"]
    w, h = cat.size
    crops = [cat.crop((0, 0, int(w * 0.8), int(h * 0.9))), cat.crop((int(w * 0.2), int(h * 0.1), w, h))]
    pictures = [*crops, photos["coffee"]]
    vecs = [
        vision.run(fake_item_context(tmp_path / str(i), [(p, 1.0)])).vector for i, p in enumerate(pictures)
    ]
    a, b, coffee = (np.asarray(v) for v in vecs)
    same = _cosine(a, b)
    assert same > 0.8, same
    assert same > _cosine(a, coffee) + 0.3 and same > _cosine(b, coffee) + 0.3


@pytest.mark.heavy
def test_item_level_pools_keyframes_by_shot_duration(
    vision: VisionExtractor, photos: dict, tmp_path: Path
) -> None:
    cat, coffee = photos["chelsea"], photos["coffee"]
    alone = {
        name: _vector(vision.run(fake_item_context(tmp_path / name, [(p, 1.0)])))
        for name, p in (("cat", cat), ("coffee", coffee))
    }
    # Six shots through more than one batch: a long cat scene and short coffee cutaways.
    small = VisionExtractor(vision.settings, VisionOptions(batch_size=4, threads=2))
    mixed = small.run(fake_item_context(tmp_path / "mixed", [(cat, 7.0)] + [(coffee, 0.6)] * 5))
    assert [k["shot"] for k in mixed.payload["keyframes"]] == [0, 1, 2, 3, 4, 5]
    assert mixed.payload["labels"][0]["name"] in CAT_LABELS
    assert "espresso" in _names(mixed.payload["labels"])
    expected = 0.7 * alone["cat"] + 0.3 * alone["coffee"]
    np.testing.assert_allclose(_vector(mixed), expected, rtol=1e-3, atol=1e-4)


# -- the ONNX graph against the former torch path ------------------------------------------------

GOLDEN = Path(__file__).parent / "data" / "efficientnet_golden.json"


def _golden_pictures(photos: dict[str, Image.Image]) -> dict[str, Image.Image]:
    found = dict(photos)
    hopper = Path(pytest.importorskip("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if hopper.is_file():
        found["grace_hopper"] = Image.open(hopper).convert("RGB")
    return found


@pytest.mark.heavy
def test_onnx_graph_reproduces_the_torch_path_on_real_photos(vision: VisionExtractor, photos: dict) -> None:
    golden = json.loads(GOLDEN.read_text())["photos"]
    pictures = _golden_pictures(photos)
    vision._load()
    compared = 0
    for name, want in golden.items():
        if name not in pictures:
            continue
        x = vision._tensor(pictures[name])[None]
        emb, logits = vision._model.run(["embedding", "logits"], {"pixels": x})
        top = np.argsort(-logits[0])[:5]
        assert [int(i) for i in top] == [i for i, _ in want["top5"]], name
        assert np.allclose(logits[0][top], [v for _, v in want["top5"]], atol=2e-4), name
        assert np.allclose(emb[0][:16], want["embedding_head"], atol=1e-4), name
        assert float(np.linalg.norm(emb[0])) == pytest.approx(want["embedding_norm"], rel=1e-5)
        compared += 1
    assert compared >= 2


@pytest.mark.heavy
def test_onnx_graph_matches_torch_when_torch_is_installed(vision: VisionExtractor) -> None:
    """Random inputs at two sizes, against the PyTorch port itself (where it happens to be installed)."""
    torch = pytest.importorskip("torch")
    effnet = pytest.importorskip("efficientnet_lite_pytorch")
    vision._load()
    weights = Path(vision.settings.kit_dir) / "efficientnet-lite0" / "efficientnet-lite0.pth"
    net = effnet.EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    net.eval()
    rng = np.random.default_rng(7)
    for side in (224, 256):
        x = rng.uniform(-1, 1, (2, 3, side, side)).astype(np.float32)
        emb, logits = vision._model.run(["embedding", "logits"], {"pixels": x})
        with torch.inference_mode():
            pooled = net.extract_features(torch.from_numpy(x)).mean(dim=(2, 3))
            want = net._fc(pooled)
        assert np.abs(emb - pooled.numpy()).max() < 1e-4
        assert np.abs(logits - want.numpy()).max() < 1e-4
        assert (logits.argmax(1) == want.numpy().argmax(1)).all()

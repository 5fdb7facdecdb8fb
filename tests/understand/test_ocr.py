"""The OCR stage: words rendered into a small H.264 video come back, text repeated across
consecutive shots is listed once, a picture without text gives no lines.

The video is made on the spot with imageio-ffmpeg's ffmpeg; model tests are ``heavy`` and skip,
with the reason, without rapidocr-onnxruntime, PyAV or the kit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from mediarec.kit import ModelNotInstalled
from mediarec.settings import Settings
from mediarec.understand.ocr import OCRExtractor, OCROptions, _line_height, dedupe_lines
from tests.understand.test_vision import fake_item_context, photos  # noqa: F401 - photos is a fixture

SIZE = (960, 540)
FPS = 10
# (words, background) per shot, one second each. Shots 0 and 1 show the same caption over a cut.
SCENES: list[tuple[str | None, str]] = [
    ("HELLO WORLD", "#1e3c96"),
    ("HELLO WORLD", "#962828"),
    ("MEDIA REC 2024", "#14783c"),
    (None, "#5a5a5a"),
]


def _line(text: str, shot: int) -> dict[str, object]:
    return {"time": float(shot), "shot": shot, "text": text, "score": 0.9}


def test_dedupe_drops_text_still_on_screen_after_a_cut() -> None:
    frames = [
        [_line("HELLO WORLD", 0)],
        [_line("Hello World", 1), _line("NEW", 1)],  # same words, other case: the recogniser's whim
        [_line("HELL0 WORLD", 2)],  # one letter misread: still the same caption
        [],
        [_line("HELLO WORLD", 4)],  # gone for a shot and back: a new appearance
    ]
    kept = [(line["shot"], line["text"]) for line in dedupe_lines(frames, ratio=0.9)]
    assert kept == [(0, "HELLO WORLD"), (1, "NEW"), (4, "HELLO WORLD")]
    exact = dedupe_lines(frames, ratio=1.0)
    assert [line["shot"] for line in exact] == [0, 1, 2, 4]


def test_line_height_is_the_short_side_of_the_box() -> None:
    assert _line_height([[10, 10], [410, 10], [410, 50], [10, 50]]) == 40
    assert _line_height([[0, 0], [60, 80], [30, 120], [-30, 40]]) == 50  # tilted: 100 wide, 50 high


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        OCROptions(min_score=1.5)
    with pytest.raises(ValueError):
        OCROptions(det_side=8)


def test_construction_loads_nothing_and_a_missing_kit_is_named(tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path / "home"), kit_dir=str(tmp_path / "empty-kit"))
    stage = OCRExtractor(settings)
    assert (stage.name, stage.requires, stage.needs_video, stage.dim) == ("ocr", ("shots",), True, None)
    assert stage.version == "rapidocr-ppocr/1"
    ctx = fake_item_context(tmp_path / "item", [(Image.new("RGB", (64, 48)), 1.0)])
    with pytest.raises(ModelNotInstalled, match="rapidocr"):
        stage.run(ctx)


# -- the model ---------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    pytest.skip("the DejaVu Sans Bold font is not installed (fonts-dejavu-core)")


def _scene(text: str | None, background: str) -> Image.Image:
    image = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    if text:
        draw.text((SIZE[0] // 2, SIZE[1] // 2), text, fill="white", font=_font(56), anchor="mm")
    else:  # shapes, not a blank frame: a bar and a disc, which PP-OCR reads as a huge "10"
        draw.ellipse((300, 120, 660, 420), fill="#c8b428")
        draw.rectangle((80, 80, 200, 460), fill="#f0f0f0")
    return image


def _write_video(path: Path, pictures: Sequence[Image.Image], seconds: float = 1.0) -> Path:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="the test video needs imageio-ffmpeg")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo"]
    cmd += ["-pix_fmt", "rgb24", "-s", "{}x{}".format(*SIZE), "-r", str(FPS), "-i", "-"]
    # A keyframe every second: the stage seeks to each shot, as on real files.
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(FPS), str(path)]
    raw = b"".join(p.tobytes() * round(seconds * FPS) for p in pictures)
    subprocess.run(cmd, input=raw, capture_output=True, check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def ocr(shared_kit: Settings) -> OCRExtractor:
    pytest.importorskip("rapidocr_onnxruntime", reason="the OCR stage needs rapidocr-onnxruntime")
    pytest.importorskip("av", reason="decoding keyframes needs PyAV (the media extra)")
    return OCRExtractor(shared_kit, OCROptions(threads=2))


@pytest.fixture(scope="module")
def text_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Image.Image]]:
    scenes = [_scene(text, bg) for text, bg in SCENES]
    return _write_video(tmp_path_factory.mktemp("ocr") / "text.mp4", scenes), scenes


@pytest.mark.heavy
def test_words_on_screen_come_back(ocr: OCRExtractor, text_video: tuple, tmp_path: Path) -> None:
    video, scenes = text_video
    feat = ocr.run(fake_item_context(tmp_path, [(s, 1.0) for s in scenes], video=video))
    lines = feat.payload["lines"]
    # HELLO WORLD is on screen across the first cut: listed once, at its first shot.
    assert [(line["shot"], line["text"].lower()) for line in lines] == [
        (0, "hello world"),
        (2, "media rec 2024"),
    ]
    assert all(line["score"] >= 0.6 and line["time"] == line["shot"] + 0.5 for line in lines)
    assert feat.payload["text"].lower() == "hello world media rec 2024"
    assert feat.vector is None


@pytest.mark.heavy
def test_thumbnails_only_still_read_large_words(ocr: OCRExtractor, text_video: tuple, tmp_path: Path) -> None:
    video, scenes = text_video
    thumbs = OCRExtractor(ocr.settings, OCROptions(full_resolution=False, threads=2))
    text = thumbs.run(fake_item_context(tmp_path, [(s, 1.0) for s in scenes], video=video)).payload["text"]
    # At 320 px the gaps between words shrink below what the recogniser reads as a space.
    squashed = text.lower().replace(" ", "")
    assert "helloworld" in squashed and "mediarec2024" in squashed


@pytest.mark.heavy
def test_subtitle_sized_text_needs_the_full_resolution_frame(ocr: OCRExtractor, tmp_path: Path) -> None:
    # 16 px on a 960 px frame (32 px at 1080p, a usual subtitle) is 5 px high in the 320 px thumbnail.
    frame = Image.new("RGB", SIZE, "#203040")
    ImageDraw.Draw(frame).text(
        (480, 480), "subtitles are small here", fill="white", font=_font(16), anchor="mm"
    )
    video = _write_video(tmp_path / "subtitle.mp4", [frame])
    ctx = fake_item_context(tmp_path / "item", [(frame, 1.0)], video=video)
    assert ocr.run(ctx).payload["text"].lower() == "subtitles are small here"
    thumbs = OCRExtractor(ocr.settings, OCROptions(full_resolution=False, threads=2))
    assert thumbs.run(ctx).payload["lines"] == []


@pytest.mark.heavy
def test_a_shot_without_thumbnail_is_decoded_from_the_video(
    ocr: OCRExtractor, text_video: tuple, tmp_path: Path
) -> None:
    video, scenes = text_video
    thumbs = OCRExtractor(ocr.settings, OCROptions(full_resolution=False, threads=2))
    feat = thumbs.run(fake_item_context(tmp_path, [(None, 1.0), (None, 1.0), (scenes[2], 1.0)], video=video))
    assert [line["shot"] for line in feat.payload["lines"]] == [0, 2]


@pytest.mark.heavy
def test_pictures_without_text_give_no_lines(
    ocr: OCRExtractor, text_video: tuple, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pictures = request.getfixturevalue("photos")  # not a parameter: it would shadow the import
    shapes = text_video[1][3]
    assert ocr.read(shapes) == []
    assert ocr.read(pictures["chelsea"]) == [] and ocr.read(pictures["coffee"]) == []
    thumbs = OCRExtractor(ocr.settings, OCROptions(full_resolution=False, threads=2))
    feat = thumbs.run(fake_item_context(tmp_path, [(shapes, 1.0), (pictures["chelsea"], 1.0)]))
    assert feat.payload == {"lines": [], "text": ""}

"""The text stage and its MiniLM (onnxruntime): sensible similarities, normalised vectors, and an item text
assembled from the right sources under the model's 256-token window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediarec.records import MediaInfo
from mediarec.settings import Settings
from mediarec.understand.base import Feature, ItemContext
from mediarec.understand.text import DIM, MiniLM, TextExtractor, TextOptions, ocr_text, transcript_text

pytestmark = pytest.mark.heavy  # every test below loads MiniLM's tokenizer and weights


class FakeItemContext(ItemContext):
    """A fake item: no file behind it, and decoding its audio is an error (the text stage reads the
    other stages' features, never the soundtrack)."""

    def audio(self) -> np.ndarray:
        raise AssertionError("the text stage must not decode audio")


def fake_item(title: str = "", description: str = "", **features: Feature) -> FakeItemContext:
    info = MediaInfo(
        path="fake.mp4", size_bytes=0, container="mp4", duration=60.0, has_video=True, has_audio=True
    )
    return FakeItemContext(
        item_id="fake",
        path=Path("fake.mp4"),
        info=info,
        title=title,
        description=description,
        features=dict(features),
    )


def speech_feature(text: str, is_speech: bool = True) -> Feature:
    segments = [{"start": 0.0, "end": 5.0, "text": text}] if is_speech else []
    return Feature(
        "speech", "fake", {"is_speech": is_speech, "text": text if is_speech else "", "segments": segments}
    )


def ocr_feature(*lines: str) -> Feature:
    return Feature("ocr", "fake", {"lines": [{"text": ln, "score": 0.9} for ln in lines]})


@pytest.fixture(scope="module")
def minilm(shared_kit: Settings) -> MiniLM:
    pytest.importorskip("tokenizers", reason="tokenizers missing: pip install -e '.[understand]'")
    pytest.importorskip("onnxruntime", reason="onnxruntime missing: pip install -e '.[understand]'")
    return MiniLM.from_settings(shared_kit)


@pytest.fixture(scope="module")
def extractor(shared_kit: Settings, minilm: MiniLM) -> TextExtractor:
    return TextExtractor(shared_kit)


def test_similar_meanings_are_close(minilm: MiniLM) -> None:
    pasta, spaghetti, football, tactics = minilm.encode(
        ["a recipe for pasta", "cooking spaghetti at home", "football tactics", "how a team presses high"]
    )
    assert pasta @ spaghetti > 0.5 > pasta @ football
    assert pasta @ spaghetti > pasta @ tactics + 0.2
    assert football @ tactics > spaghetti @ tactics


def test_vectors_are_normalised_and_batches_match_singles(minilm: MiniLM) -> None:
    texts = ["short", "A cat sits on the mat. " * 120, "Git rebase moves your commits.", "", "naïve café ☕"]
    minilm.batch_size = 2  # several batches, sorted by length, must come back in the caller's order
    try:
        batch = minilm.encode(texts)
    finally:
        minilm.batch_size = 32
    assert batch.shape == (len(texts), DIM) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    singles = np.stack([minilm.encode([t])[0] for t in texts])
    assert np.allclose(batch, singles, atol=1e-5)
    assert minilm.encode([]).shape == (0, DIM)


def test_head_cuts_between_words(minilm: MiniLM) -> None:
    text = "Cooking spaghetti at home is a joy"
    head, total = minilm.head(text, 3)
    assert total == minilm.count_tokens(text) > 3
    assert text.startswith(head) and minilm.count_tokens(head) <= 3 and not head.endswith("spag")
    assert minilm.head(text, 100) == (text, total)


def test_extractor_embeds_every_source(extractor: TextExtractor, minilm: MiniLM) -> None:
    ctx = fake_item(
        "Fresh pasta at home",
        "Flour, eggs and patience.",
        speech=speech_feature("Make a well in the flour, crack the eggs into the middle and knead the dough"),
        ocr=ocr_feature("FRESH PASTA", "FRESH PASTA", "knead ten minutes"),
    )
    feat = extractor.run(ctx)
    p = feat.payload
    assert p["fields"] == ["title", "description", "transcript", "ocr"]
    assert p["truncated"] is False and p["cut"] == {} and 0 < p["tokens"] <= 254
    assert feat.vector is not None and feat.vector.shape == (DIM,) and feat.vector.dtype == np.float32
    assert float(np.linalg.norm(feat.vector)) == pytest.approx(1.0, abs=1e-5)
    text = (
        "Fresh pasta at home. Flour, eggs and patience. Make a well in the flour, crack the eggs into "
        "the middle and knead the dough. FRESH PASTA knead ten minutes"
    )  # OCR lines deduplicated
    assert np.allclose(feat.vector, minilm.encode([text])[0], atol=1e-5) and p["chars"] == len(text)


def test_transcript_and_ocr_move_the_vector(extractor: TextExtractor, minilm: MiniLM) -> None:
    title = "Episode 12"  # says nothing about the topic: the content has to
    cooking = extractor.run(fake_item(title, speech=speech_feature("We roll pasta dough thin and boil it")))
    football = extractor.run(fake_item(title, ocr=ocr_feature("PRESSING TRAP", "offside line")))
    assert cooking.payload["fields"] == ["title", "transcript"]
    assert football.payload["fields"] == ["title", "ocr"]
    assert cooking.vector is not None and football.vector is not None
    topics = minilm.encode(["cooking pasta", "football tactics"])
    assert cooking.vector @ topics[0] > cooking.vector @ topics[1]
    assert football.vector @ topics[1] > football.vector @ topics[0]


def test_no_speech_transcript_is_ignored(extractor: TextExtractor) -> None:
    feat = extractor.run(fake_item("Rain sounds", speech=speech_feature("Thank you.", is_speech=False)))
    assert feat.payload["fields"] == ["title"]
    assert transcript_text(speech_feature("anything", is_speech=False)) == ""
    assert transcript_text(None) == "" and ocr_text(None) == ""
    assert ocr_text(Feature("ocr", "fake", {"lines": [{"text": "A"}, {"text": "a"}], "text": "A"})) == "A"


def test_long_transcript_is_cut_to_its_head_after_title_and_description(extractor: TextExtractor) -> None:
    description = "A slow guide to sourdough bread, from starter to crumb."
    transcript = " ".join(f"Sentence number {i} about feeding the starter." for i in range(400))
    feat = extractor.run(
        fake_item(
            "Sourdough basics", description, speech=speech_feature(transcript), ocr=ocr_feature("SOURDOUGH")
        )
    )
    p = feat.payload
    assert p["fields"] == ["title", "description", "transcript", "ocr"]
    assert p["truncated"] is True and set(p["cut"]) == {"transcript"}
    # Title, description and OCR are whole; the transcript fills the window up to [CLS]/[SEP]/dots.
    assert p["tokens"] == 256 - 2 - 3
    count = extractor.model().count_tokens
    whole = sum(count(t) for t in ("Sourdough basics", description, "SOURDOUGH"))
    assert p["cut"]["transcript"] == count(transcript) - (p["tokens"] - whole)


def test_field_caps_apply_when_everything_is_long(shared_kit: Settings, minilm: MiniLM) -> None:
    ex = TextExtractor(shared_kit, TextOptions(title_tokens=8, description_tokens=20, ocr_tokens=10))
    ex._model = minilm  # the same weights; loading again costs a second
    long = " ".join(["word"] * 500)
    p = ex.run(fake_item(long, long, speech=speech_feature(long), ocr=ocr_feature(long))).payload
    kept = {f: 500 - p["cut"][f] for f in ("title", "description", "transcript", "ocr")}
    assert kept["title"] == 8 and kept["description"] == 20 and kept["ocr"] == 10
    assert kept["transcript"] == 256 - 2 - 3 - 38
    assert ex.version != TextExtractor(shared_kit).version == "all-minilm-l6-v2/1"


def test_an_item_with_no_text_gets_no_vector(extractor: TextExtractor) -> None:
    feat = extractor.run(fake_item("", " "))
    assert feat.vector is None and feat.payload["fields"] == [] and feat.payload["truncated"] is False
    assert (TextExtractor.name, TextExtractor.uses, TextExtractor.dim) == ("text", ("speech", "ocr"), 384)


def test_a_sentence_transformers_folder_without_onnx_is_built_in_memory(
    minilm: MiniLM, shared_kit: Settings, tmp_path: Path
) -> None:
    """``text_model`` may name a plain sentence-transformers folder (no model.onnx): the graph is
    built from its model.safetensors at load time and gives the kit's vectors."""
    import shutil

    kit = Path(shared_kit.kit_dir) / "minilm"
    folder = tmp_path / "plain-minilm"
    shutil.copytree(kit, folder, ignore=shutil.ignore_patterns("model.onnx", "manifest.json"))
    settings = Settings(home=str(tmp_path / "home"), kit_dir=shared_kit.kit_dir, text_model=str(folder))
    texts = ["A slow film about two sisters.", "Explosions, car chases and a heist."]
    assert np.abs(MiniLM.from_settings(settings).encode(texts) - minilm.encode(texts)).max() < 1e-6

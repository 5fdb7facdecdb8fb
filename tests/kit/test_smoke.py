"""Each assembled model loads in its runtime and gives a sensible answer (the loading code the
extractors use). Skipped, with the reason, where a runtime package is not installed."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mediarec.kit import model_dir, model_file
from mediarec.settings import Settings

pytestmark = pytest.mark.heavy


def _names(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return [row["display_name"] for row in csv.DictReader(fh)]


def test_whisper_transcribes(shared_kit: Settings, tmp_path: Path) -> None:
    faster_whisper = pytest.importorskip("faster_whisper")
    folder = model_dir("whisper-base", shared_kit.home_path, shared_kit)
    model = faster_whisper.WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)
    if shutil.which("espeak-ng"):
        wav = tmp_path / "hello.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), "Hello world, this is a test."], check=True)
        audio = faster_whisper.decode_audio(str(wav), sampling_rate=16000)
    else:
        audio = np.zeros(16000, dtype=np.float32)
    segments, info = model.transcribe(audio, beam_size=1, language="en")
    text = " ".join(s.text for s in segments).lower()
    assert info.duration == pytest.approx(len(audio) / 16000, abs=0.01)
    if shutil.which("espeak-ng"):
        assert "hello" in text and "test" in text


def test_yamnet_tags_silence(shared_kit: Settings) -> None:
    ort = pytest.importorskip("onnxruntime")
    folder = model_dir("yamnet", shared_kit.home_path, shared_kit)
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape, inp.type) == ("audio", [1, 1, 96, 64], "tensor(uint8)")
    assert (out.name, out.shape, out.type) == ("class_scores", [1, 521], "tensor(uint8)")
    quant = json.loads((folder / "quantization.json").read_text())
    log_mel = np.full((1, 1, 96, 64), np.log(0.001), dtype=np.float32)  # silence
    q = np.clip(np.round(log_mel / quant["input"]["scale"] + quant["input"]["zero_point"]), 0, 255)
    (scores,) = session.run(None, {"audio": q.astype(np.uint8)})
    logits = quant["output"]["scale"] * (scores.astype(np.float32) - quant["output"]["zero_point"])
    assert _names(folder / "yamnet_class_map.csv")[int(logits.argmax())] == "Silence"


def test_efficientnet_labels_a_photo(shared_kit: Settings) -> None:
    """The ONNX graph that ``models install`` writes from the PyTorch weights, run as the stage runs it."""
    ort = pytest.importorskip("onnxruntime")
    image = pytest.importorskip("PIL.Image")
    photo = Path(pytest.importorskip("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not photo.is_file():
        pytest.skip("matplotlib's sample photo is not installed")
    graph = model_file("efficientnet-lite0", shared_kit.home_path, shared_kit)
    assert graph.name == "efficientnet-lite0.onnx"
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    assert [o.name for o in session.get_outputs()] == ["embedding", "logits", "probabilities"]
    img = image.open(photo).convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((224, 224), image.BILINEAR)
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    features, logits, probs = session.run(None, {"pixels": x.transpose(2, 0, 1)[None]})
    assert logits.shape == (1, 1000) and features.shape == (1, 1280)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and probs.argmax() == logits.argmax()
    labels = _names(graph.parent / "imagenet_class_map.csv")
    assert labels[int(logits.argmax())] == "military uniform"


def _minilm(folder: Path, texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 in NumPy: BERT encoder, mean pooling, L2 norm (matches
    sentence-transformers to ~1e-7)."""
    from safetensors.numpy import load_file
    from scipy.special import erf
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(256)  # tokenizer.json ships max_length 128 and fixed padding to 128
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    w = load_file(str(folder / "model.safetensors"))
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc])
    mask = np.array([e.attention_mask for e in enc], dtype=np.float32)

    def norm(x: np.ndarray, p: str) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x: np.ndarray, p: str) -> np.ndarray:
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: ids.shape[1]]
    x = norm(x + w[e + "token_type_embeddings.weight"][0], e + "LayerNorm")
    b, t, h = x.shape
    heads = lambda y: y.reshape(b, t, 12, h // 12).transpose(0, 2, 1, 3)  # noqa: E731
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (heads(lin(x, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
        a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(h // 12) + (mask[:, None, None, :] - 1) * 1e9
        a = np.exp(a - a.max(-1, keepdims=True))
        ctx = ((a / a.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(b, t, h)
        x = norm(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        inner = lin(x, p + "intermediate.dense")
        gelu = 0.5 * inner * (1 + erf(inner / np.sqrt(2)))
        x = norm(lin(gelu, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_minilm_embeds_sentences(shared_kit: Settings) -> None:
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    folder = model_dir("minilm", shared_kit.home_path, shared_kit)
    vecs = _minilm(folder, ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock prices fell."])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > 0.5 > vecs[0] @ vecs[2]


def test_minilm_onnx_matches_the_numpy_reference(shared_kit: Settings) -> None:
    """The kit's model.onnx (what the text stage runs) against the BERT written out in NumPy above,
    on texts of very different lengths, so that padding and masking are exercised."""
    pytest.importorskip("onnxruntime")
    from mediarec.understand.text import MiniLM

    folder = model_dir("minilm", shared_kit.home_path, shared_kit)
    texts = [
        "x",
        "A cat sits on the mat.",
        "Stock prices fell sharply on Monday after the central bank raised interest rates again. " * 6,
        "Ein Hund läuft über die Wiese — 東京 🎬",
    ]
    model = MiniLM(folder, batch_size=4)
    assert np.abs(model.encode(texts) - _minilm(folder, texts)).max() < 1e-5


def test_rapidocr_reads_rendered_text(shared_kit: Settings) -> None:
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    from PIL import Image, ImageDraw, ImageFont

    folder = model_dir("rapidocr", shared_kit.home_path, shared_kit)
    ocr = rapidocr.RapidOCR(
        det_model_path=str(folder / "ch_PP-OCRv4_det_infer.onnx"),
        cls_model_path=str(folder / "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        rec_model_path=str(folder / "ch_PP-OCRv4_rec_infer.onnx"),
        det_limit_side_len=736,  # the default limit_type "min" upscales a 120 px strip to 736 px high
        det_limit_type="max",
    )
    img = Image.new("RGB", (480, 120), "white")
    ImageDraw.Draw(img).text((20, 30), "HELLO KIT 2024", fill="black", font=ImageFont.load_default(size=48))
    result, _ = ocr(np.asarray(img)[:, :, ::-1].copy())  # BGR, like cv2.imread
    assert result and "HELLO KIT 2024" in " ".join(r[1] for r in result)


def test_llm_loads_when_installed(shared_kit: Settings) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    from mediarec.kit import ModelNotInstalled

    try:
        path = model_file("qwen-0.5b", shared_kit.home_path, shared_kit)
    except ModelNotInstalled:
        pytest.skip("qwen-0.5b is opt-in: set MEDIAREC_KIT_DIR to a kit with `--llm fast` installed")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)
    out = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Reply with the single word: yes"}], max_tokens=4, temperature=0
    )
    assert "yes" in out["choices"][0]["message"]["content"].lower()

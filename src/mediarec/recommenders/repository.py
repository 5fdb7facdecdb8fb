"""Trained models in the data home: ``models/<name>/<version>/`` holding ``meta.json`` + ``arrays.npz``.

A model is written into a temporary folder and renamed into place, so a crash never leaves a
half-written version where ``latest`` would find it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mediarec.recommenders import CLASSES, Recommender


def models_root(home: str | Path, root: str | Path | None = None) -> Path:
    """``root`` when given (the ``models_dir`` setting: a folder replicas share), else ``<home>/models``."""
    return Path(root) if root else Path(home) / "models"


def versions(home: str | Path, name: str, *, root: str | Path | None = None) -> list[Path]:
    folder = models_root(home, root) / name
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and (p / "meta.json").is_file()]
    return sorted(found, key=lambda p: int(p.name))


def save(
    model: Recommender,
    home: str | Path,
    name: str | None = None,
    *,
    root: str | Path | None = None,
    extras: Callable[[Path], object] | None = None,
) -> Path:
    """Store a fitted model as the next version of ``name`` (default: the model's own name).
    ``extras`` writes derived files (an index) into the version's folder before it is published."""
    folder = models_root(home, root) / (name or model.name)
    folder.mkdir(parents=True, exist_ok=True)
    existing = versions(home, name or model.name, root=root)
    version = int(existing[-1].name) + 1 if existing else 1
    tmp = folder / f".tmp-{uuid.uuid4().hex}"
    model.save(tmp)
    if extras is not None:
        extras(tmp)
    # Renaming a folder onto an existing non-empty one fails, so two trainers (on two machines
    # sharing models_dir, say) that picked the same number never overwrite each other: the later
    # one takes the next free number.
    for _ in range(1000):
        final = folder / f"{version:04d}"
        try:
            os.rename(tmp, final)
            return final
        except OSError:
            if not final.exists():
                raise
            version += 1
    raise OSError(f"{folder}: no free version number after {version}")


def newest_version(home: str | Path, name: str, *, root: str | Path | None = None) -> Path | None:
    """The newest saved version of ``name``, as :func:`versions` would list last, for a poll: one
    directory listing and a stat or two, however many versions are kept."""
    folder = models_root(home, root) / name
    try:
        names = [e.name for e in os.scandir(folder) if e.name.isdigit()]
    except (FileNotFoundError, NotADirectoryError):
        return None
    for candidate in sorted(names, key=int, reverse=True):
        # A version appears by a rename of its finished folder, so meta.json is there or it is not one.
        if (folder / candidate / "meta.json").is_file():
            return folder / candidate
    return None


def load(folder: str | Path) -> Recommender:
    meta = json.loads((Path(folder) / "meta.json").read_text())
    try:
        cls = CLASSES[meta["model"]]
    except KeyError:
        raise ValueError(f"{folder}: unknown model type {meta.get('model')!r}") from None
    return cls.load(folder)


def latest(home: str | Path, name: str, *, root: str | Path | None = None) -> Recommender | None:
    found = versions(home, name, root=root)
    return load(found[-1]) if found else None


def scrub_user(home: str | Path, user: str, *, root: str | Path | None = None) -> int:
    """Remove one user's rows from every saved model (their factors and seen items); returns
    how many model versions changed. Part of deleting a user: no derived artefact keeps them.

    Each changed version is rewritten into a new folder that replaces the old one, and the old
    files are deleted, not kept renamed. Leftovers of an interrupted save or scrub (``.tmp-*``,
    ``.old-*``) that hold the user are deleted too; a ``.tmp-*`` younger than
    :data:`IN_FLIGHT_SECONDS` may be a training run about to publish, which checks for deletions
    itself (:meth:`mediarec.engine.MediaRec.train`), and is left to it.
    """
    changed = 0
    folder_root = models_root(home, root)
    if not folder_root.is_dir():
        return 0
    for meta_path in folder_root.glob("*/*/meta.json"):
        folder = meta_path.parent
        if folder.name.startswith("."):
            if _holds(folder, {user}) and _is_debris(folder):
                shutil.rmtree(folder, ignore_errors=True)
            continue
        if scrub_users(folder, {user}):
            changed += 1
    for stray in folder_root.glob("*/.old-*"):
        # A scrub that died between its two renames; the published folder is handled above.
        if stray.is_dir() and not (stray / "meta.json").is_file():
            shutil.rmtree(stray, ignore_errors=True)
    return changed


# A temporary model folder this recent may belong to a run that is still writing it.
IN_FLIGHT_SECONDS = 600.0


def _is_debris(folder: Path) -> bool:
    if folder.name.startswith(".old-"):
        return True
    try:
        return time.time() - folder.stat().st_mtime > IN_FLIGHT_SECONDS
    except FileNotFoundError:
        return False


def _holds(folder: Path, users: set[str]) -> bool:
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            return bool(np.isin(data["user_ids"], list(users)).any())
    except (OSError, ValueError, KeyError):
        return False  # half-written or foreign: nothing we can read, nothing we can scrub


def model_users(folder: str | Path) -> np.ndarray:
    """The user ids one saved version holds rows for."""
    with np.load(Path(folder) / "arrays.npz", allow_pickle=False) as data:
        return np.asarray(data["user_ids"])


def scrub_users(folder: str | Path, users: set[str]) -> bool:
    """Rewrite one saved version without the rows of ``users``; False when it held none of them."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    drop = np.isin(arrays["user_ids"], list(users))
    if not drop.any():
        return False
    keep = ~drop
    indptr = arrays["seen_indptr"]
    counts = np.diff(indptr)
    entries = np.repeat(keep, counts)  # one flag per stored seen entry, by its row
    arrays["user_ids"] = arrays["user_ids"][keep]
    arrays["seen_data"] = arrays["seen_data"][entries]
    arrays["seen_indices"] = arrays["seen_indices"][entries]
    arrays["seen_indptr"] = np.concatenate([[0], np.cumsum(counts[keep])]).astype(indptr.dtype)
    for key in meta.get("user_arrays", []):
        arrays[f"model_{key}"] = arrays[f"model_{key}"][keep]
    meta["n_users"] = int(keep.sum())
    tmp = folder.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    np.savez(tmp / "arrays.npz", **arrays)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    for extra in folder.glob("*.usearch"):  # item-side indexes: users' rows are not in them
        shutil.copy2(extra, tmp / extra.name)
    old = folder.parent / f".old-{uuid.uuid4().hex}"
    os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old)
    return True

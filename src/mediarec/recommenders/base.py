"""The one recommender base: batch-first, users × items fixed once, persisted without pickle.

Models work on row and column positions of the :class:`~mediarec.interactions.Interactions`
matrix they were fitted on; ``user_ids`` / ``item_ids`` map those positions to external ids.
"""

from __future__ import annotations

import dataclasses
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions

FORMAT_VERSION = 1
# Users scored at once: bounds the dense (batch × items) score block to a few tens of MB.
_SCORE_BLOCK_CELLS = 8_000_000


class NotFittedError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of every model's options dataclass."""


class Recommender(ABC):
    """Subclasses set ``name`` and ``params_cls`` and implement ``_fit`` and ``_score``.

    Arrays a model learns are exposed through ``_arrays`` / ``_set_arrays`` so that the base can
    save and load them as ``.npz`` without pickle. ``user_arrays`` names those whose rows are users:
    deleting a user removes that row from every saved model.
    """

    name: ClassVar[str] = ""
    params_cls: ClassVar[type[Params]] = Params
    user_arrays: ClassVar[tuple[str, ...]] = ()
    # True for models that need item feature vectors in fit() (content, hybrid); callers use it to
    # load features only when some model reads them. Others accept and ignore them.
    uses_item_features: ClassVar[bool] = False

    def __init__(self, params: Params | None = None, **overrides: Any) -> None:
        base = params if params is not None else self.params_cls()
        self.params = dataclasses.replace(base, **overrides) if overrides else base
        self.user_ids: np.ndarray = np.asarray([], dtype=str)
        self.item_ids: np.ndarray = np.asarray([], dtype=str)
        self.seen: sp.csr_matrix | None = None
        self.fit_seconds: float = 0.0
        # Set only while _fit runs; a model that keeps features stores them through _arrays.
        self.fit_features: np.ndarray | None = None

    # -- training ----------------------------------------------------------------------------
    def fit(self, interactions: Interactions, item_features: np.ndarray | None = None) -> Recommender:
        """Learn from ``interactions``; ``item_features`` is an optional dense (n_items, dim) matrix
        whose row ``i`` describes ``interactions.item_ids[i]`` (zeros where an item has none).
        Items with features but no interactions are columns of zeros in the matrix: cold items
        that feature-aware models can still rank."""
        started = time.perf_counter()
        features = check_item_features(item_features, interactions.n_items)
        if features is None and self.uses_item_features:
            raise ValueError(f"model {self.name!r} needs item_features (one row per item) to fit")
        self.user_ids = interactions.user_ids
        self.item_ids = interactions.item_ids
        self.seen = interactions.matrix.tocsr()
        self.fit_features = features
        try:
            self._fit(interactions)
        finally:
            self.fit_features = None
        self.fit_seconds = time.perf_counter() - started
        return self

    @abstractmethod
    def _fit(self, interactions: Interactions) -> None: ...

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Dense scores, shape (len(users), n_items), float32; higher is better."""

    # -- serving -----------------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def _check_fitted(self) -> sp.csr_matrix:
        if self.seen is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        return self.seen

    def recommend(
        self,
        user_ids: Sequence[int] | np.ndarray,
        n: int = 10,
        filter_seen: bool = True,
        candidates: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[Sequence[int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item positions and scores for each user row, best first.

        ``candidates`` restricts ranking to those item positions; ``exclude`` gives per-user item
        positions to drop as well (events the store saw after training). Where fewer than ``n``
        items remain, ids are padded with -1 and scores with -inf. Shapes: (len(user_ids), n).
        """
        seen = self._check_fitted()
        users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        if users.size and (users.min() < 0 or users.max() >= self.n_users):
            raise IndexError(f"user row out of range 0..{self.n_users - 1}")
        n = max(0, min(int(n), self.n_items))
        ids = np.full((len(users), n), -1, dtype=np.int64)
        scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        if n == 0 or users.size == 0:
            return ids, scores
        mask = None
        if candidates is not None:
            mask = np.ones(self.n_items, dtype=bool)
            mask[np.asarray(candidates, dtype=np.int64)] = False
        block = max(1, _SCORE_BLOCK_CELLS // max(self.n_items, 1))
        for start in range(0, len(users), block):
            rows = users[start : start + block]
            s = np.asarray(self._score(rows), dtype=np.float32)
            if filter_seen:
                sub = seen[rows]
                s[np.repeat(np.arange(len(rows)), np.diff(sub.indptr)), sub.indices] = -np.inf
            if mask is not None:
                s[:, mask] = -np.inf
            if exclude is not None:
                for k, items in enumerate(exclude[start : start + block]):
                    if len(items):
                        s[k, np.asarray(items, dtype=np.int64)] = -np.inf
            top = _top_n(s, n)
            top_scores = np.take_along_axis(s, top, axis=1)
            valid = np.isfinite(top_scores)
            ids[start : start + len(rows)] = np.where(valid, top, -1)
            scores[start : start + len(rows)] = np.where(valid, top_scores, -np.inf)
        return ids, scores

    def item_vectors(self) -> np.ndarray | sp.csr_matrix:
        """Item representation used by ``similar_items``: the columns of the training matrix."""
        return self._check_fitted().T.tocsr()

    def similar_items(
        self, item_ids: Sequence[int] | np.ndarray, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosine neighbours of each item among the model's item vectors (the item itself excluded)."""
        items = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        vectors = self.item_vectors()
        if isinstance(vectors, sp.spmatrix | sp.sparray):
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            unit = sp.diags(1.0 / norms) @ vectors
            sims = np.asarray((unit[items] @ unit.T).todense(), dtype=np.float32)
        else:
            dense = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(dense, axis=1)
            norms[norms == 0] = 1.0
            unit = dense / norms[:, None]
            sims = unit[items] @ unit.T
        sims[np.arange(len(items)), items] = -np.inf
        n = max(0, min(int(n), self.n_items - 1))
        top = _top_n(sims, n)
        top_scores = np.take_along_axis(sims, top, axis=1)
        return top, top_scores

    # -- persistence -------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        pass

    def save(self, folder: str | Path) -> Path:
        """Write ``meta.json`` and ``arrays.npz`` into ``folder`` (which must not exist yet)."""
        seen = self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=False)
        arrays: dict[str, Any] = {
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "seen_data": seen.data,
            "seen_indices": seen.indices,
            "seen_indptr": seen.indptr,
            **{f"model_{k}": np.asarray(v) for k, v in self._arrays().items()},
        }
        np.savez(folder / "arrays.npz", **arrays)
        meta = {
            "model": self.name,
            "format_version": FORMAT_VERSION,
            "params": dataclasses.asdict(self.params),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "nnz": int(seen.nnz),
            "fit_seconds": self.fit_seconds,
            "user_arrays": list(self.user_arrays),
            "saved": time.time(),
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder}: model format {meta.get('format_version')} is not {FORMAT_VERSION}")
        if cls.name and meta["model"] != cls.name:
            raise ValueError(f"{folder} holds a {meta['model']!r} model, not {cls.name!r}")
        known = {f.name for f in dataclasses.fields(cls.params_cls)}
        model = cls(cls.params_cls(**{k: v for k, v in meta["params"].items() if k in known}))
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            model.user_ids = data["user_ids"]
            model.item_ids = data["item_ids"]
            model.seen = sp.csr_matrix(
                (data["seen_data"], data["seen_indices"], data["seen_indptr"]),
                shape=(len(model.user_ids), len(model.item_ids)),
            )
            model._set_arrays({k[len("model_") :]: data[k] for k in data.files if k.startswith("model_")})
        model.fit_seconds = float(meta.get("fit_seconds", 0.0))
        return model


def check_item_features(features: np.ndarray | None, n_items: int) -> np.ndarray | None:
    """``features`` as a finite float32 (n_items, dim) matrix, or None; raises on a mismatch."""
    if features is None:
        return None
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2 or f.shape[0] != n_items or f.shape[1] < 1:
        raise ValueError(f"item_features must have shape ({n_items}, dim), got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("item_features contain NaN or infinite values")
    return f


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Column positions of the ``n`` largest scores per row, best first (ties by position)."""
    if n <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    if n < scores.shape[1]:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64)

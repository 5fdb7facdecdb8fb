"""Item-based k-nearest neighbours with cosine or BM25 similarity.

Follows implicit's ItemItemRecommender semantics (same weighting, top-K neighbours per item,
score = the user's row times the similarity matrix), computed blockwise with SciPy so that
memory stays bounded by one block of item rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender, _top_n

_BLOCK_CELLS = 16_000_000  # dense similarity cells per block (~64 MB of float32)


@dataclass(frozen=True)
class ItemKNNParams(Params):
    similarity: str = "cosine"  # "cosine" or "bm25"
    neighbours: int = 20  # kept per item; more neighbours smooth scores, fewer sharpen them
    bm25_k1: float = 1.2  # BM25 term saturation (implicit's BM25Recommender default)
    bm25_b: float = 0.75  # BM25 length normalisation (implicit's BM25Recommender default)


class ItemKNNRecommender(Recommender):
    name = "itemknn"
    params_cls = ItemKNNParams
    params: ItemKNNParams

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        if self.params.similarity not in ("cosine", "bm25"):
            raise ValueError(f"similarity must be 'cosine' or 'bm25', got {self.params.similarity!r}")
        self.similarity: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)

    def _fit(self, interactions: Interactions) -> None:
        x = interactions.matrix.astype(np.float32)
        weighted = (
            _bm25(x, self.params.bm25_k1, self.params.bm25_b)
            if self.params.similarity == "bm25"
            else _l2_columns(x)
        )
        self.similarity = _top_k_gram(weighted.tocsc(), self.params.neighbours)

    def _score(self, users: np.ndarray) -> np.ndarray:
        assert self.seen is not None
        return np.asarray((self.seen[users] @ self.similarity).todense(), dtype=np.float32)

    def item_vectors(self) -> sp.csr_matrix:
        return self.similarity

    def similar_items(
        self, item_ids: Sequence[int] | np.ndarray, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        items = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        sims = np.asarray(self.similarity[items].todense(), dtype=np.float32)
        sims[sims == 0] = -np.inf
        sims[np.arange(len(items)), items] = -np.inf
        n = max(0, min(int(n), self.n_items - 1))
        top = _top_n(sims, n)
        return top, np.take_along_axis(sims, top, axis=1)

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        n = len(arrays["sim_indptr"]) - 1
        self.similarity = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n, n)
        )


def _l2_columns(x: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    return (x @ sp.diags((1.0 / norms).astype(np.float32))).tocsr()


def _bm25(x: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """implicit's bm25_weight applied to items as documents and users as terms."""
    coo = x.tocoo()
    n_items = float(x.shape[1])
    idf = np.log(n_items) - np.log1p(np.bincount(coo.row, minlength=x.shape[0]))
    item_len = np.asarray(x.sum(axis=0)).ravel()
    avg = item_len.mean() if item_len.size else 1.0
    length_norm = (1.0 - b) + b * item_len / (avg or 1.0)
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.col] + coo.data) * idf[coo.row]
    return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=x.shape)


def _top_k_gram(w: sp.csc_matrix, k: int) -> sp.csr_matrix:
    """Row-wise top-k of ``w.T @ w`` (items × items), one block of rows at a time."""
    n = w.shape[1]
    k = max(1, min(k, n))
    block = max(1, _BLOCK_CELLS // max(n, 1))
    wt = w.T.tocsr()
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(n, start + block)
        dense = np.asarray((wt[start:stop] @ w).todense(), dtype=np.float32)
        top = (
            np.argpartition(-dense, k - 1, axis=1)[:, :k]
            if k < n
            else np.tile(np.arange(n), (stop - start, 1))
        )
        top_vals = np.take_along_axis(dense, top, axis=1)
        keep = top_vals > 0
        rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
        cols.append(top.ravel()[keep.ravel()])
        vals.append(top_vals.ravel()[keep.ravel()])
    out = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
    )
    out.sort_indices()
    return out

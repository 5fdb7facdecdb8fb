"""GF-CF: collaborative filtering as graph signal filtering (Shen et al., "How Powerful is Graph
Convolution for Recommendation?", CIKM 2021).

With R̃ = D_U^-1/2 · X · D_I^-1/2 (X: who consumed what, D: user and item degrees), GF-CF scores a
user's row x by two filters on the normalised item-item graph R̃ᵀR̃:

* a linear filter, x · R̃ᵀR̃ (a popularity-normalised co-occurrence, what LightGCN's propagation
  amounts to without training), and
* an ideal low-pass filter, x · D_I^-1/2 · V_kᵀV_k · D_I^1/2, with V_k the top ``dims`` right singular
  vectors of R̃: only the smoothest ``dims`` components of the item graph pass.

score = x · (R̃ᵀR̃ + ideal_weight · D_I^-1/2 V_kᵀV_k D_I^1/2), one dense items × items matrix, no
training. On its own it scored about EASE's validation recall (ml-100k) or below it (ml-1m-llm); its
use is as a hybrid's second core beside DLAE: the low-pass part is a smooth, low-rank signal that
the item-item regressions miss (validation carves of both datasets: +2% Recall@20 over DLAE
alone, docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from mediarec.recommenders.base import Params
from mediarec.recommenders.ease import MAX_ITEMS, ItemItemRecommender


@dataclass(frozen=True)
class GFCFParams(Params):
    # Singular vectors passed by the ideal low-pass filter (the paper's k, 256 on its sparse
    # datasets; 32-128 on the validation carves of ml-100k and ml-1m-llm).
    dims: int = 64
    ideal_weight: float = 0.3  # the paper's α: weight of the low-pass filter against the linear one


class GFCFRecommender(ItemItemRecommender):
    name = "gfcf"
    params_cls = GFCFParams
    params: GFCFParams

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)
        if self.params.dims < 1:
            raise ValueError(f"dims must be >= 1, got {self.params.dims}")
        if self.params.ideal_weight < 0:
            raise ValueError(f"ideal_weight must be >= 0, got {self.params.ideal_weight}")

    def _item_weights(self, matrix: sp.csr_matrix) -> np.ndarray:
        return gfcf_weights(matrix, self.params.dims, self.params.ideal_weight)


def gfcf_weights(matrix: sp.csr_matrix, dims: int, ideal_weight: float) -> np.ndarray:
    """The GF-CF item-item filter (items × items, float32): R̃ᵀR̃ + ideal_weight · D^-1/2 VᵀV D^1/2,
    fitted on who-consumed-what. Items without events get zero rows and columns."""
    n_users, n_items = matrix.shape
    if n_items > MAX_ITEMS:
        raise ValueError(
            f"GF-CF needs a dense items × items matrix; {n_items:,} items is over {MAX_ITEMS:,}: "
            "use ALS, or the hybrid with core='als'"
        )
    x = sp.csr_matrix(matrix, dtype=np.float64)
    x.data[:] = 1.0
    du = np.asarray(x.sum(axis=1)).ravel()
    di = np.asarray(x.sum(axis=0)).ravel()
    # A zero degree has a zero row or column in x: any finite factor leaves it zero.
    user_scale = sp.diags(1.0 / np.sqrt(np.where(du > 0, du, 1.0)))
    norm = sp.csr_matrix(user_scale @ x @ sp.diags(1.0 / np.sqrt(np.where(di > 0, di, 1.0))))
    weights = np.asarray((norm.T @ norm).todense(), dtype=np.float64)
    k = min(int(dims), min(n_users, n_items) - 1)
    if ideal_weight > 0 and k >= 1 and norm.nnz:
        if 2 * k >= min(n_users, n_items):
            # Most of the spectrum: ARPACK gains nothing (and may not converge); the dense SVD is exact.
            vt = np.linalg.svd(norm.toarray(), full_matrices=False)[2][:k]
        else:
            # ARPACK from a fixed start vector: the same vectors on every fit of the same data.
            v0 = np.random.default_rng(0).standard_normal(min(n_users, n_items))
            vt = svds(norm, k=k, v0=v0)[2]
        root = np.sqrt(np.where(di > 0, di, 1.0))
        weights += ideal_weight * ((vt / root[None, :]).T @ (vt * root[None, :]))
        # An item without events lies outside R̃'s row space: its entries in V_k are rounding
        # residues (~1e-18), which would rank cold items by noise instead of tying them.
        cold = di == 0
        weights[cold, :] = 0.0
        weights[:, cold] = 0.0
    return weights.astype(np.float32)

"""EASE: a closed-form item-item linear model (Steck, "Embarrassingly Shallow Autoencoders", 2019).

B = argmin ||X - XB||² + λ||B||² with diag(B) = 0 has the closed form B = I - P·diag(1/diag(P)),
P = (XᵀX + λI)⁻¹, and a user's scores are their row of X times B. One dense items × items inverse:
fast and strong up to a few tens of thousands of items (memory grows with items², time with items³),
beyond which the factor models are the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender


@dataclass(frozen=True)
class EASEParams(Params):
    l2: float = 1000.0  # ridge λ; larger shrinks item-item weights towards 0 (chosen on a validation split)
    binary: bool = True  # fit on who-consumed-what, ignoring event weights


class ItemItemRecommender(Recommender):
    """A model that is one dense items × items matrix (EASE, DLAE, GF-CF): a user's scores are their
    row of who-consumed-what times it, and its columns are the items' vectors. Subclasses compute
    the matrix in :meth:`_item_weights`."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.weights = np.zeros((0, 0), dtype=np.float32)

    def _item_weights(self, matrix: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _binary(self) -> bool:
        """Whether a user's row is scored as who-consumed-what (1s), not by event weights."""
        return True

    def _fit(self, interactions: Interactions) -> None:
        self.weights = self._item_weights(interactions.matrix)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return ease_scores(self._check_fitted(), users, self._binary(), self.weights)

    def item_vectors(self) -> np.ndarray:
        # Column j says how much each item votes for j: items with the same voters are alike.
        return self.weights.T

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = arrays["weights"]


class EASERecommender(ItemItemRecommender):
    name = "ease"
    params_cls = EASEParams
    params: EASEParams

    def _item_weights(self, matrix: sp.csr_matrix) -> np.ndarray:
        return ease_weights(matrix, self.params.l2, self.params.binary)

    def _binary(self) -> bool:
        return self.params.binary


# Three dense items × items float64 arrays live at once (Gram, inverse, B): 20,000 items is ~10 GB.
MAX_ITEMS = 20_000


def ease_weights(matrix: sp.csr_matrix, l2: float, binary: bool) -> np.ndarray:
    """The EASE item-item matrix B (items × items, float32, zero diagonal)."""
    if matrix.shape[1] > MAX_ITEMS:
        raise ValueError(
            f"EASE needs dense items × items matrices; {matrix.shape[1]:,} items is over {MAX_ITEMS:,}: "
            "use ALS, or the hybrid with core='als'"
        )
    x = sp.csr_matrix(matrix, dtype=np.float64)
    if binary:
        x.data[:] = 1.0
    gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += l2
    # With l2 > 0 the Gram matrix is positive definite: Cholesky. l2 <= 0 keeps the general inverse.
    p = spd_inverse(gram) if l2 > 0 else np.linalg.inv(gram)
    p /= -np.diag(p).copy()[None, :]  # B = I - P·diag(1/diag(P)), off the diagonal
    np.fill_diagonal(p, 0.0)
    return p.astype(np.float32)


def spd_inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf + potri),
    in ``gram``'s memory. About 3/8 of the floating-point work of the LU solve against I that
    np.linalg.inv does, which is most of an EASE fit (9,742 items: the tuner fits several)."""
    from scipy.linalg import lapack

    factor, info = lapack.dpotrf(gram, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: the Gram matrix is not positive definite (potrf info {info})")
    p, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: the Gram matrix is singular (LAPACK potri info {info})")
    # potri fills the upper triangle only; mirror it down, a block of rows at a time (no copy).
    n = len(p)
    for start in range(0, n, 1024):
        stop = min(n, start + 1024)
        p[start:stop, :start] = p[:start, start:stop].T
        block = p[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        block[lower] = block.T[lower]
    return p


def ease_scores(seen: sp.csr_matrix, users: np.ndarray, binary: bool, weights: np.ndarray) -> np.ndarray:
    x = seen[users]
    if binary:
        x = x.copy()
        x.data[:] = 1.0
    return np.asarray(x @ weights, dtype=np.float32)

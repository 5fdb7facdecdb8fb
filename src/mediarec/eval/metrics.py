"""Full-ranking metrics, vectorised over users.

Inputs shared by every function:

* ``top``: int array (users × K) of recommended item positions, best first, padded with -1 where a
  model returned fewer than K items. K is ``top.shape[1]``.
* ``test``: CSR matrix (users × items) of held-out positives, rows aligned with ``top``. Any stored
  non-zero counts as one relevant item; values are ignored (binary relevance).

For user u let T_u be their test items, n_u = |T_u|, and hit(u, j) = 1 if ``top[u, j]`` is in T_u
(ranks j = 1..K). Accuracy metrics are averaged over users with n_u > 0 only; users without test
items say nothing about accuracy. With no such user the average is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

# Users whose (K × dims) item-vector block is gathered at once in intra-list diversity.
_ILD_BLOCK_USERS = 4096


@dataclass(frozen=True)
class MetricOptions:
    """How the beyond-accuracy metrics are computed."""

    svd_dims: int = 64  # dimensions of the default item vectors for ILD (fewer if the matrix is small)
    svd_seed: int = 0  # start vector of the SVD solver, for reproducible vectors


def hits(top: np.ndarray, test: sp.csr_matrix) -> np.ndarray:
    """Boolean (users × K): whether each recommended item is a test item of that user."""
    top = np.asarray(top, dtype=np.int64)
    test = _binary(test)
    if top.shape[0] != test.shape[0]:
        raise ValueError(f"top has {top.shape[0]} rows but test has {test.shape[0]}")
    n_items = np.int64(test.shape[1])
    # One integer key per (user, item) cell; membership is then a single sorted lookup.
    test_rows = np.repeat(np.arange(test.shape[0], dtype=np.int64), np.diff(test.indptr))
    test_keys = np.unique(test_rows * n_items + test.indices.astype(np.int64))
    top_keys = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    found = np.isin(top_keys, test_keys) if test_keys.size else np.zeros(top.shape, dtype=bool)
    return found & (top >= 0)


def _binary(test: sp.csr_matrix) -> sp.csr_matrix:
    """The stored non-zeros of ``test``, once each (explicit zeros and duplicates would otherwise
    disagree between the hit lookup and the count of relevant items)."""
    t = sp.csr_matrix(test, copy=True)
    t.sum_duplicates()
    t.eliminate_zeros()
    return t


def _n_relevant(test: sp.csr_matrix) -> np.ndarray:
    return np.diff(_binary(test).indptr).astype(np.float64)


def _mean_over_test_users(values: np.ndarray, n_rel: np.ndarray) -> float:
    mask = n_rel > 0
    return float(values[mask].mean()) if mask.any() else float("nan")


def recall_at_k(top: np.ndarray, test: sp.csr_matrix) -> float:
    """Recall@K = mean over users of (sum_j hit(u, j)) / n_u."""
    return _recall(hits(top, test), _n_relevant(test))


def ndcg_at_k(top: np.ndarray, test: sp.csr_matrix) -> float:
    """NDCG@K = mean over users of DCG / IDCG with binary gains:
    DCG = sum_j hit(u, j) / log2(j + 1), IDCG = sum_{j=1..min(n_u, K)} 1 / log2(j + 1)."""
    return _ndcg(hits(top, test), _n_relevant(test))


def map_at_k(top: np.ndarray, test: sp.csr_matrix) -> float:
    """MAP@K = mean over users of AP@K = (sum_j hit(u, j) * P@j) / min(n_u, K), where
    P@j = (sum_{i<=j} hit(u, i)) / j is the precision at rank j."""
    return _map(hits(top, test), _n_relevant(test))


def hit_rate_at_k(top: np.ndarray, test: sp.csr_matrix) -> float:
    """HitRate@K = share of users with at least one hit in their top K."""
    return _hit_rate(hits(top, test), _n_relevant(test))


def mrr_at_k(top: np.ndarray, test: sp.csr_matrix) -> float:
    """MRR@K = mean over users of 1 / (rank of the first hit), 0 when nothing in the top K hits."""
    return _mrr(hits(top, test), _n_relevant(test))


# The private forms take the hit matrix and relevant counts, so all_metrics looks hits up once.
def _recall(h: np.ndarray, n: np.ndarray) -> float:
    return _mean_over_test_users(h.sum(axis=1) / np.maximum(n, 1), n)


def _ndcg(h: np.ndarray, n: np.ndarray) -> float:
    k = h.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (h * discount).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n, k).astype(np.int64)]
    return _mean_over_test_users(dcg / np.where(ideal > 0, ideal, 1.0), n)


def _map(h: np.ndarray, n: np.ndarray) -> float:
    k = h.shape[1]
    precision = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    ap = (precision * h).sum(axis=1) / np.maximum(np.minimum(n, k), 1)
    return _mean_over_test_users(ap, n)


def _hit_rate(h: np.ndarray, n: np.ndarray) -> float:
    return _mean_over_test_users(np.asarray(h.any(axis=1), dtype=np.float64), n)


def _mrr(h: np.ndarray, n: np.ndarray) -> float:
    if h.shape[1] == 0:
        return _mean_over_test_users(np.zeros(h.shape[0]), n)
    first = np.argmax(h, axis=1)
    rr = np.where(h.any(axis=1), 1.0 / (first + 1), 0.0)
    return _mean_over_test_users(rr, n)


def coverage(top: np.ndarray, n_items: int) -> float:
    """Catalogue coverage = |distinct items recommended to anyone| / ``n_items``."""
    top = np.asarray(top)
    if n_items <= 0:
        return float("nan")
    return float(np.unique(top[top >= 0]).size / n_items)


def item_popularity(train: sp.csr_matrix) -> np.ndarray:
    """Per item, the smoothed share of training users who interacted with it:
    p_i = (c_i + 1) / (n_users + 1), c_i = number of users with a stored non-zero on item i.

    Add-one smoothing keeps items nobody trained on finite (they get the largest surprise,
    log2(n_users + 1) bits) while staying at most 1 because c_i <= n_users.
    """
    m = sp.csr_matrix(train)
    counts = np.bincount(m.indices[m.data != 0], minlength=m.shape[1]).astype(np.float64)
    return (counts + 1.0) / (m.shape[0] + 1.0)


def novelty(top: np.ndarray, popularity: np.ndarray) -> float:
    """Novelty = mean of -log2(p_i) over every recommended slot (all users' lists pooled),
    with p_i from :func:`item_popularity`. Higher means less popular, more surprising items."""
    top = np.asarray(top)
    items = top[top >= 0]
    if items.size == 0:
        return float("nan")
    return float(np.mean(-np.log2(popularity[items])))


def default_item_vectors(train: sp.csr_matrix, options: MetricOptions | None = None) -> np.ndarray:
    """Unit-length item vectors for intra-list diversity, shape (items × dims).

    The item × user training matrix (binarised) is reduced by a truncated SVD, A ≈ U S Vᵀ, and
    item i is row i of U S, L2-normalised. Since V is orthonormal, cosines between these rows equal
    cosines between the rows of the rank-``dims`` reconstruction of A. Why not the raw columns: in
    sparse data most item pairs share no user, so raw cosines are almost all 0 and ILD saturates
    near 1 for every model; the low-rank space also relates items through users they do not share.
    Why not each model's own factors: one fixed space keeps ILD comparable across models.
    Items without training users get a zero vector (cosine 0 with everything, i.e. distance 1).
    """
    opts = options or MetricOptions()
    a = sp.csr_matrix(train, dtype=np.float64).T.tocsr()
    a.data[:] = 1.0
    dims = min(opts.svd_dims, min(a.shape) - 1)
    if dims < 1:
        # Too small for an SVD: the exact item × user rows are already low-dimensional.
        vectors = np.asarray(a.todense(), dtype=np.float64)
    else:
        v0 = np.random.default_rng(opts.svd_seed).random(min(a.shape))
        u, s, _ = svds(a, k=dims, v0=v0)
        # Components beyond the matrix's rank have singular values at rounding level and
        # arbitrary directions; left in, they would give unused items a spurious unit vector.
        s = np.where(s > s.max(initial=0.0) * 1e-6, s, 0.0)
        vectors = u * s
    vectors[np.diff(a.indptr) == 0] = 0.0  # no training users: no direction to speak of
    norms = np.linalg.norm(vectors, axis=1)
    return (vectors / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)


def intra_list_diversity(top: np.ndarray, item_vectors: np.ndarray) -> float:
    """ILD = mean over lists with at least two items of the mean pairwise (1 - cos(v_i, v_j))
    over all unordered pairs of distinct slots in the list; ``item_vectors`` rows must be unit
    length or zero (a zero vector has cosine 0 with everything)."""
    top = np.asarray(top, dtype=np.int64)
    vectors = np.asarray(item_vectors, dtype=np.float64)
    per_list: list[np.ndarray] = []
    for start in range(0, top.shape[0], _ILD_BLOCK_USERS):
        block = top[start : start + _ILD_BLOCK_USERS]
        valid = block >= 0
        v = vectors[np.where(valid, block, 0)] * valid[..., None]
        m = valid.sum(axis=1).astype(np.float64)
        # Sum over pairs i<j of v_i·v_j = (|sum v|² - sum |v|²) / 2: O(K) instead of O(K²).
        total = v.sum(axis=1)
        pair_dot = ((total * total).sum(axis=1) - (v * v).sum(axis=(1, 2))) / 2.0
        n_pairs = m * (m - 1) / 2.0
        ok = n_pairs > 0
        per_list.append(1.0 - pair_dot[ok] / n_pairs[ok])
    values = np.concatenate(per_list) if per_list else np.zeros(0)
    return float(values.mean()) if values.size else float("nan")


def all_metrics(
    top: np.ndarray,
    test: sp.csr_matrix,
    popularity: np.ndarray,
    item_vectors: np.ndarray,
) -> dict[str, float]:
    """Every metric under its report key: recall, ndcg, map, hit_rate, mrr, coverage, novelty, ild."""
    h, n = hits(top, test), _n_relevant(test)
    return {
        "recall": _recall(h, n),
        "ndcg": _ndcg(h, n),
        "map": _map(h, n),
        "hit_rate": _hit_rate(h, n),
        "mrr": _mrr(h, n),
        "coverage": coverage(top, int(test.shape[1])),
        "novelty": novelty(top, popularity),
        "ild": intra_list_diversity(top, item_vectors),
    }

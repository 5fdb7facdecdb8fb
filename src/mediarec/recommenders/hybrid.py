"""Hybrid recommender: collaborative filtering whose item representations are completed from
content, plus a content-similarity term.

1. A CF core learns a representation R_j for every item from interactions: the item's column of
   EASE's item-item matrix (``core="ease"``), or its ALS factors (``core="als"``). Scores are the
   user's row of the matrix (EASE) or user factors (ALS) against R.
2. Every item also gets a representation borrowed from content: the softmax-weighted mean of the
   R of its ``neighbours`` nearest items *with interactions* in the content space. This is a
   kernel regression from content vectors into the CF space, fitted on the warm items; a cold item
   (features, no events) has nothing else, and is placed where items that read like it sit.
3. Own and borrowed are blended by evidence: w_j = n_j / (n_j + shrinkage) with n_j the item's
   training users, so a cold item is all content, a long-tail item leans on its neighbours and a
   popular item keeps its own representation.
4. score(u, j) = CF(u, R_j) + c_j · cos(profile_u, f_j), the second term being the content
   model's (:mod:`mediarec.recommenders.content`): it lifts items that read like what the user
   consumed, which the CF part alone cannot see. c_j = content_weight + cold_content_weight ·
   (1 - w_j): content speaks louder for items whose representation is borrowed.

The defaults were chosen on a validation split carved from the ML-1M training fold
(``bench/tune_hybrid.py``, docs/benchmarks.md), never on its test fold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender
from mediarec.recommenders.content import profile_weights, unit_item_vectors
from mediarec.recommenders.ease import ease_scores, ease_weights

_BLOCK_CELLS = 16_000_000  # dense similarity cells per block when finding content neighbours
CORES = ("auto", "ease", "als")
BORROWS = ("auto", "knn", "linear")
# "auto" choices by catalogue size (items in the training matrix). EASE holds three dense
# items × items float64 arrays (10,000 items: ~2.4 GB), so above this the ALS core is used.
AUTO_EASE_MAX_ITEMS = 10_000
# The k-nearest-neighbour kernel compares every item with every warm item (blockwise, O(items²)
# time); above this many items the borrowed representation comes from a linear map instead.
AUTO_KNN_MAX_ITEMS = 50_000


@dataclass(frozen=True)
class HybridParams(Params):
    # "ease" (exact item-item; memory grows with items²), "als" (factors; scales to millions of
    # items) or "auto": EASE up to AUTO_EASE_MAX_ITEMS items, ALS above. A fitted model stores its choice.
    core: str = "auto"
    # How an item borrows a CF representation from content: "knn" (softmax over its nearest warm
    # items; O(items²) time), "linear" (a ridge map from content vectors to CF representations,
    # fitted on the warm items; linear time) or "auto": knn up to AUTO_KNN_MAX_ITEMS items.
    borrow: str = "auto"
    borrow_l2: float = 1.0  # ridge λ of the linear map
    l2: float = 1000.0  # EASE core: ridge λ
    factors: int = 64  # ALS core: the ALS options, as in ALSParams
    regularization: float = 0.05
    alpha: float = 1.0
    iterations: int = 15
    seed: int = 42
    threads: int = 0
    neighbours: int = 400  # warm content neighbours an item borrows its CF representation from
    temperature: float = 0.2  # softmax temperature over the neighbours' cosines; lower = nearest dominate
    # Training users at which own and borrowed representation weigh equally; 0 = only items
    # without interactions borrow (validation on ML-1M preferred 0: its items are all well observed).
    shrinkage: float = 0.0
    content_weight: float = 0.05  # weight of cos(user profile, item) added to the CF score
    # Added to content_weight in proportion to how much of an item's representation is borrowed
    # (all of it for a cold item): content should speak louder where interactions say little.
    cold_content_weight: float = 0.0
    center: bool = True  # centre feature vectors before normalising (see ContentParams.center)


class HybridRecommender(Recommender):
    name = "hybrid"
    params_cls = HybridParams
    params: HybridParams
    uses_item_features = True
    user_arrays = ("user_profiles", "user_factors")

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        if self.params.core not in CORES:
            raise ValueError(f"core must be one of {', '.join(CORES)}, got {self.params.core!r}")
        if self.params.borrow not in BORROWS:
            raise ValueError(f"borrow must be one of {', '.join(BORROWS)}, got {self.params.borrow!r}")
        self.item_unit = np.zeros((0, 0), dtype=np.float32)
        self.user_profiles = np.zeros((0, 0), dtype=np.float32)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)  # ALS core only; (users, 0) for EASE
        self.item_repr = np.zeros((0, 0), dtype=np.float32)  # R after blending, one row per item
        self.item_content_weight = np.zeros(0, dtype=np.float32)  # per item: weight of the content term

    def _fit(self, interactions: Interactions) -> None:
        assert self.fit_features is not None
        n = interactions.n_items
        core, borrow = self.params.core, self.params.borrow
        if core == "auto":
            core = "ease" if n <= AUTO_EASE_MAX_ITEMS else "als"
        if borrow == "auto":
            borrow = "knn" if n <= AUTO_KNN_MAX_ITEMS else "linear"
        # The resolved choices are saved with the model (meta.json) and decide how it scores.
        self.params = p = dataclasses.replace(self.params, core=core, borrow=borrow)
        self.item_unit = unit_item_vectors(self.fit_features, p.center)
        weights = profile_weights(interactions, use_weights=False, half_life_days=0.0)
        self.user_profiles = _unit_rows(np.asarray(weights @ self.item_unit, dtype=np.float32))
        if p.core == "ease":
            own = ease_weights(interactions.matrix, p.l2, binary=True).T  # row j = EASE column j
            self.user_factors = np.zeros((interactions.n_users, 0), dtype=np.float32)
        else:
            from mediarec.recommenders.als import ALSRecommender

            als = ALSRecommender(
                factors=p.factors,
                regularization=p.regularization,
                alpha=p.alpha,
                iterations=p.iterations,
                seed=p.seed,
                threads=p.threads,
            )
            als.fit(interactions)
            own = als.item_factors
            self.user_factors = als.user_factors
        counts = np.diff(interactions.matrix.tocsc().indptr).astype(np.float64)
        if p.borrow == "knn":
            kernel = content_kernel(self.item_unit, counts > 0, p.neighbours, p.temperature)
            borrowed = np.asarray(kernel @ own, dtype=np.float32)
            has_content = np.diff(kernel.indptr) > 0
        else:
            borrowed, has_content = linear_borrow(self.item_unit, counts > 0, own, p.borrow_l2)
        denom = counts + p.shrinkage
        keep = np.where(denom > 0, counts / np.where(denom > 0, denom, 1.0), 0.0)
        keep[~has_content] = 1.0  # no content neighbours: nothing to borrow, keep what CF learned
        self.item_repr = (keep[:, None] * own + (1.0 - keep[:, None]) * borrowed).astype(np.float32)
        weight = p.content_weight + p.cold_content_weight * (1.0 - keep)
        self.item_content_weight = weight.astype(np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        if self.params.core == "ease":
            cf = ease_scores(self._check_fitted(), users, True, self.item_repr.T)
        else:
            cf = self.user_factors[users] @ self.item_repr.T
        content = self.user_profiles[users] @ self.item_unit.T
        return np.asarray(cf + self.item_content_weight * content, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_repr

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_unit": self.item_unit,
            "user_profiles": self.user_profiles,
            "user_factors": self.user_factors,
            "item_repr": self.item_repr,
            "item_content_weight": self.item_content_weight,
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_unit = arrays["item_unit"]
        self.user_profiles = arrays["user_profiles"]
        self.user_factors = arrays["user_factors"]
        self.item_repr = arrays["item_repr"]
        self.item_content_weight = arrays["item_content_weight"]


def linear_borrow(
    unit: np.ndarray, warm: np.ndarray, own: np.ndarray, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """(every item's CF representation predicted from its content vector by a ridge map fitted on
    the warm items, which items have content). A low-rank stand-in for the kNN kernel: one
    (dim × dim) solve, so it costs O(items · dim²) at any catalogue size."""
    has = np.any(unit != 0, axis=1)
    src = np.flatnonzero(warm & has)
    out = np.zeros((unit.shape[0], own.shape[1]), dtype=np.float32)
    if not len(src):
        return out, np.zeros(unit.shape[0], dtype=bool)
    x = unit[src].astype(np.float64)
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += l2
    weights = np.linalg.solve(gram, x.T @ np.asarray(own[src], dtype=np.float64))
    out[has] = (unit[has] @ weights.astype(np.float32)).astype(np.float32)
    return out, has


def content_kernel(unit: np.ndarray, sources: np.ndarray, k: int, temperature: float) -> sp.csr_matrix:
    """Items × items weights: row j holds softmax(cos / temperature) over j's ``k`` most similar
    items among ``sources`` (itself excluded), rows summing to 1; empty for items without content.
    """
    n = unit.shape[0]
    src = np.flatnonzero(sources & np.any(unit != 0, axis=1))
    k = max(0, min(int(k), len(src) - 1 if len(src) > 1 else len(src)))
    has = np.any(unit != 0, axis=1)
    if k == 0 or not has.any():
        return sp.csr_matrix((n, n), dtype=np.float32)
    src_unit = unit[src]
    block = max(1, _BLOCK_CELLS // max(len(src), 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = unit[start:stop] @ src_unit.T
        # An item is not its own neighbour (it would just copy its own CF representation back).
        self_hit = np.isin(src, np.arange(start, stop))
        if self_hit.any():
            pos = np.flatnonzero(self_hit)
            sims[src[pos] - start, pos] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1).astype(np.float64)
        logits = (top_sims - top_sims.max(axis=1, keepdims=True)) / max(temperature, 1e-6)
        w = np.exp(logits)
        w /= w.sum(axis=1, keepdims=True)
        live = has[start:stop]
        r = np.repeat(np.arange(start, stop), k).reshape(-1, k)[live]
        rows.append(r.ravel())
        cols.append(src[top[live]].ravel())
        vals.append(w[live].ravel())
    return sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)

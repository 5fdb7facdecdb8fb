"""Hybrid recommender: collaborative filtering whose item representations are completed from
content, plus a content-similarity term.

1. A CF core learns a representation R_j for every item from interactions: the item's column of
   EASE's item-item matrix (``core="ease"``; ``"dlae"``: EASE regularised as dropout would), of
   item-kNN's cosine or BM25 similarity matrix (``core="itemknn"`` / ``"itemknn-bm25"``), of GF-CF's
   graph filter (``core="gfcf"``), or its ALS factors (``core="als"``). Scores are the user's row of
   the matrix (EASE, DLAE, item-kNN, GF-CF) or user factors (ALS) against R. Which core carries
   the strongest signal depends on the data (item-kNN beat EASE on a music catalogue where EASE
   beat it on ML-1M), so ``mediarec tune`` chooses it per dataset.
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

5. Optionally a second core (``core2``) is added at ``core2_weight``, its scores scaled to the first
   core's spread: a small weighted ensemble of cores, borrowing for cold items like the first.

The defaults were chosen on a validation split carved from the ML-1M training fold
(``bench/tune_hybrid.py``, docs/benchmarks.md), never on its test fold.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import Interactions
from mediarec.recommenders.base import Params, Recommender
from mediarec.recommenders.content import profile_weights, unit_item_vectors
from mediarec.recommenders.ease import ease_scores, ease_weights

T = TypeVar("T")
_BLOCK_CELLS = 16_000_000  # dense similarity cells per block when finding content neighbours
CORES = ("auto", "ease", "dlae", "als", "itemknn", "itemknn-bm25", "gfcf")
# Cores whose item representation is a column of an items × items matrix (scored from the user's row).
MATRIX_CORES = ("ease", "dlae", "itemknn", "itemknn-bm25", "gfcf")
# Cores fitted on who-consumed-what (binary rows); item-kNN scores the weighted row.
BINARY_CORES = ("ease", "dlae", "gfcf")
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
    l2: float = 1000.0  # EASE and DLAE cores: ridge λ
    dropout: float = 0.5  # DLAE core: the dropout rate behind its popularity-scaled penalty (DLAEParams)
    knn_neighbours: int = 100  # item-kNN cores: neighbours kept per item (as ItemKNNParams.neighbours)
    gf_dims: int = 64  # GF-CF core: singular vectors of its low-pass filter (as GFCFParams.dims)
    gf_ideal_weight: float = 0.3  # GF-CF core: weight of the low-pass filter (GFCFParams.ideal_weight)
    # A second CF core ("" = none) whose scores are added at core2_weight, after scaling them to the
    # first core's spread: two cores often err differently (EASE and BM25 item-kNN on MovieLens), so
    # a small weighted ensemble beats either; the weight is chosen on validation by `mediarec tune`.
    # It shares the first core's content borrowing and the core options above.
    core2: str = ""
    core2_weight: float = 0.0
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
    user_arrays = ("user_profiles", "user_factors", "user_factors2")

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        if self.params.core not in CORES:
            raise ValueError(f"core must be one of {', '.join(CORES)}, got {self.params.core!r}")
        if self.params.core2 and (
            self.params.core2 not in CORES[1:] or self.params.core2 == self.params.core
        ):
            raise ValueError(
                f"core2 must be empty or one of {', '.join(CORES[1:])} other than core, "
                f"got {self.params.core2!r}"
            )
        if self.params.borrow not in BORROWS:
            raise ValueError(f"borrow must be one of {', '.join(BORROWS)}, got {self.params.borrow!r}")
        self.item_unit = np.zeros((0, 0), dtype=np.float32)
        self.user_profiles = np.zeros((0, 0), dtype=np.float32)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)  # ALS core only; (users, 0) for EASE
        self.item_repr = np.zeros((0, 0), dtype=np.float32)  # R after blending, one row per item
        self.item_repr2 = np.zeros((0, 0), dtype=np.float32)  # the same for core2; (0, 0) without one
        self.user_factors2 = np.zeros((0, 0), dtype=np.float32)
        self.core2_scale = 0.0
        self.item_content_weight = np.zeros(0, dtype=np.float32)  # per item: weight of the content term
        # Optional, set by a caller that fits many variants on the SAME interactions (the tuner):
        # fitted cores and content kernels are kept here by their options and reused, so a trial
        # that only changes the content knobs costs no new core fit. Never saved with the model.
        self.core_cache: dict[tuple[object, ...], object] | None = None
        # Also for the tuner, which scores a few hundred users per fit: with a matrix core and most
        # items borrowing (shrinkage > 0), blend at scoring time (kernel · the user's scores, cheap
        # for few users) instead of materialising kernel · R over items² (14 s at 9,742 items).
        # Same scores; such a model cannot be saved. Never set for a model that serves.
        self.borrow_at_score = False
        self._lazy_kernel: sp.csr_matrix | None = None
        self._lazy_keep: np.ndarray | None = None  # per item: keep, for the first core; None = blended
        self._lazy_keep2: np.ndarray | None = None  # the same for core2

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
        own, user_factors = self._cached(core_key(p), lambda: fit_core(interactions, p))
        self.user_factors = user_factors
        counts = np.diff(interactions.matrix.tocsc().indptr).astype(np.float64)
        kernel_key = ("kernel", p.center, p.neighbours, p.temperature, p.borrow, p.borrow_l2)
        if p.borrow == "knn":
            kernel = self._cached(
                kernel_key, lambda: content_kernel(self.item_unit, counts > 0, p.neighbours, p.temperature)
            )
            has_content = np.diff(kernel.indptr) > 0

            def borrowed_of(rep: np.ndarray, rows: np.ndarray) -> np.ndarray:
                return np.asarray(kernel[rows] @ rep, dtype=np.float32)
        else:
            has_content = linear_borrow(self.item_unit, counts > 0, own[:, :1], p.borrow_l2)[1]

            def borrowed_of(rep: np.ndarray, rows: np.ndarray) -> np.ndarray:
                return linear_borrow(self.item_unit, counts > 0, rep, p.borrow_l2)[0][rows]

        denom = counts + p.shrinkage
        keep = np.where(denom > 0, counts / np.where(denom > 0, denom, 1.0), 0.0)
        keep[~has_content] = 1.0  # no content neighbours: nothing to borrow, keep what CF learned
        lazy = (
            self.borrow_at_score and p.borrow == "knn" and 2 * int(np.count_nonzero(keep < 1.0)) > n
        )
        self._lazy_kernel = kernel if lazy else None
        self._lazy_keep = self._lazy_keep2 = None
        if lazy and core in MATRIX_CORES:
            self.item_repr, self._lazy_keep = own, keep.astype(np.float32)  # read only, never written
        else:
            self.item_repr = self._blend(own, keep, borrowed_of, ("borrowed", core_key(p), kernel_key))
        weight = p.content_weight + p.cold_content_weight * (1.0 - keep)
        self.item_content_weight = weight.astype(np.float32)
        self.item_repr2 = np.zeros((0, 0), dtype=np.float32)
        self.user_factors2 = np.zeros((interactions.n_users, 0), dtype=np.float32)
        self.core2_scale = 0.0
        if p.core2 == p.core:
            raise ValueError(
                f"core2 {p.core2!r} is the core itself (core 'auto' chose it); leave core2 empty"
            )
        if p.core2:
            p2 = dataclasses.replace(p, core=p.core2)
            own2, self.user_factors2 = self._cached(core_key(p2), lambda: fit_core(interactions, p2))
            if lazy and p2.core in MATRIX_CORES:
                self.item_repr2, self._lazy_keep2 = own2, keep.astype(np.float32)
            else:
                key2 = ("borrowed", core_key(p2), kernel_key)
                self.item_repr2 = self._blend(own2, keep, borrowed_of, key2)
            # The second core's scores brought to the first's spread, measured on (up to) 256
            # users with events: raw scales differ by orders of magnitude between cores.
            users = np.flatnonzero(np.diff(interactions.matrix.tocsr().indptr) > 0)[:256]
            if len(users):
                first = self._cf(users, p.core, self.item_repr, self.user_factors, self._lazy_keep)
                second = self._cf(users, p.core2, self.item_repr2, self.user_factors2, self._lazy_keep2)
                s1, s2 = float(np.std(first)), float(np.std(second))
                self.core2_scale = s1 / s2 if s2 > 0 else 0.0

    def _blend(
        self,
        own: np.ndarray,
        keep: np.ndarray,
        borrowed_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
        key: tuple[object, ...],
    ) -> np.ndarray:
        """keep · own + (1 - keep) · borrowed, computing borrowed only for the rows that use it:
        with an items × items core, borrowing every row is a (sparse items × items) · (dense items ×
        items) product, by far the costliest step, while only items with few events need it."""
        need = np.flatnonzero(keep < 1.0)
        if not len(need):
            return np.array(own, dtype=np.float32, copy=True)
        if 2 * len(need) > len(own):
            # Most rows borrow (shrinkage > 0): all of them, kept for trials that change only
            # the content knobs or the shrinkage. Blended whole-array (no row gathers: three
            # passes over items² floats instead of seven); rows with keep 1 stay exactly own.
            every = np.arange(len(own))
            borrowed_all = self._cached(key, lambda: borrowed_of(own, every))
            k_all = keep[:, None].astype(np.float32)
            out = np.multiply(own, k_all, dtype=np.float32)
            out += borrowed_all * (1.0 - k_all)
            return out
        # Few rows (shrinkage 0: the items without events). Still a sparse × dense product over
        # the whole catalogue per row, seconds at 9,742 items: kept too, keyed by the rows.
        rows_key = (*key, "rows", hashlib.sha1(need.tobytes()).hexdigest())
        borrowed = self._cached(rows_key, lambda: borrowed_of(own, need))
        out = np.array(own, dtype=np.float32, copy=True)
        k = keep[need, None].astype(np.float32)
        out[need] = k * out[need] + (1.0 - k) * borrowed
        return out

    def _cached(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        if self.core_cache is None:
            return make()
        if key not in self.core_cache:
            self.core_cache[key] = make()
        return self.core_cache[key]  # type: ignore[return-value]

    def _cf(
        self,
        users: np.ndarray,
        core: str,
        repr_: np.ndarray,
        factors: np.ndarray,
        lazy_keep: np.ndarray | None = None,
    ) -> np.ndarray:
        if core in MATRIX_CORES:
            # EASE was fitted on who-consumed-what; item-kNN scores the weighted row, as ItemKNN does.
            own = ease_scores(self._check_fitted(), users, core in BINARY_CORES, repr_.T)
            if lazy_keep is None or self._lazy_kernel is None:
                return own
            # Blend at scoring time: item j's borrowed score is the kernel-weighted mean of its
            # neighbours' own scores (kernel · R, applied to the user's side of the product).
            borrowed = np.asarray((self._lazy_kernel @ own.T).T, dtype=np.float32)
            return own * lazy_keep[None, :] + borrowed * (1.0 - lazy_keep)[None, :]
        return np.asarray(factors[users] @ repr_.T, dtype=np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        cf = self._cf(users, self.params.core, self.item_repr, self.user_factors, self._lazy_keep)
        if self.params.core2 and self.item_repr2.size:
            weight = self.params.core2_weight * self.core2_scale
            cf = cf + weight * self._cf(
                users, self.params.core2, self.item_repr2, self.user_factors2, self._lazy_keep2
            )
        content = self.user_profiles[users] @ self.item_unit.T
        return np.asarray(cf + self.item_content_weight * content, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        self._refuse_lazy("give item vectors")
        return self.item_repr

    def _refuse_lazy(self, what: str) -> None:
        if self._lazy_keep is not None or self._lazy_keep2 is not None:
            raise RuntimeError(
                f"this hybrid was fitted with borrow_at_score (the tuner's scoring only); it cannot {what}"
            )

    def _arrays(self) -> dict[str, np.ndarray]:
        self._refuse_lazy("be saved")
        return {
            "item_unit": self.item_unit,
            "user_profiles": self.user_profiles,
            "user_factors": self.user_factors,
            "item_repr": self.item_repr,
            "item_content_weight": self.item_content_weight,
            "item_repr2": self.item_repr2,
            "user_factors2": self.user_factors2,
            "core2_scale": np.asarray([self.core2_scale], dtype=np.float64),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_unit = arrays["item_unit"]
        self.user_profiles = arrays["user_profiles"]
        self.user_factors = arrays["user_factors"]
        self.item_repr = arrays["item_repr"]
        self.item_content_weight = arrays["item_content_weight"]
        # Models saved before core2 existed have none of these arrays.
        n_users = len(self.user_factors)
        self.item_repr2 = arrays.get("item_repr2", np.zeros((0, 0), dtype=np.float32))
        self.user_factors2 = arrays.get("user_factors2", np.zeros((n_users, 0), dtype=np.float32))
        self.core2_scale = float(arrays.get("core2_scale", np.zeros(1))[0])


def core_key(p: HybridParams) -> tuple[object, ...]:
    """The options a fitted core depends on: equal keys, equal cores (on the same interactions)."""
    if p.core == "ease":
        return ("ease", p.l2)
    if p.core == "dlae":
        return ("dlae", p.l2, p.dropout)
    if p.core in ("itemknn", "itemknn-bm25"):
        return (p.core, p.knn_neighbours)
    if p.core == "gfcf":
        return ("gfcf", p.gf_dims, p.gf_ideal_weight)
    return ("als", p.factors, p.regularization, p.alpha, p.iterations, p.seed)


def fit_core(interactions: Interactions, p: HybridParams) -> tuple[np.ndarray, np.ndarray]:
    """(own item representations, one row per item; user factors, (users, 0) for matrix cores)."""
    empty = np.zeros((interactions.n_users, 0), dtype=np.float32)
    if p.core == "ease":
        return ease_weights(interactions.matrix, p.l2, binary=True).T, empty  # row j = EASE column j
    if p.core == "dlae":
        from mediarec.recommenders.dlae import dlae_weights

        return dlae_weights(interactions.matrix, p.dropout, p.l2, emphasis=False).T, empty
    if p.core == "gfcf":
        from mediarec.recommenders.gfcf import gfcf_weights

        return gfcf_weights(interactions.matrix, p.gf_dims, p.gf_ideal_weight).T, empty
    if p.core in ("itemknn", "itemknn-bm25"):
        from mediarec.recommenders.ease import MAX_ITEMS
        from mediarec.recommenders.itemknn import ItemKNNRecommender

        if interactions.n_items > MAX_ITEMS:
            # The borrowed blend makes the similarity matrix dense: items² floats.
            raise ValueError(
                f"the {p.core} core holds a dense items × items matrix; {interactions.n_items:,} items is "
                f"over {MAX_ITEMS:,}: use core='als'"
            )
        similarity = "bm25" if p.core == "itemknn-bm25" else "cosine"
        knn = ItemKNNRecommender(similarity=similarity, neighbours=p.knn_neighbours)
        knn.fit(interactions)
        return np.asarray(knn.similarity.T.todense(), dtype=np.float32), empty  # row j = column j
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
    return als.item_factors, als.user_factors


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

"""Offline evaluation: split a dataset, fit each model on train, rank the whole catalogue, score.

The protocol is full ranking: every catalogue item is a candidate (no sampled negatives), items the
user already has in training are filtered out, and test items are kept even when no training user
touched them, because a real system would have to rank them too. The cold-item split
(``cold-items``) instead ranks only the held-out items, which no training event touches: the
question there is how well a model places new items, not whether it prefers old ones.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from mediarec.datasets.base import Dataset
from mediarec.eval.metrics import MetricOptions, all_metrics, coverage, default_item_vectors, item_popularity
from mediarec.eval.rerank import POOL_FACTOR, mmr_rerank
from mediarec.eval.splits import make_split
from mediarec.interactions import Interactions
from mediarec.recommenders import MODELS, Recommender, create
from mediarec.recommenders.content import unit_item_vectors

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalOptions:
    """Knobs of :func:`evaluate` beyond the everyday ones in its signature."""

    test_fraction: float = 0.2  # share held out by the random and temporal splits
    batch_size: int = 1024  # test users ranked per recommend() call; bounds peak memory
    metrics: MetricOptions = field(default_factory=MetricOptions)
    # Also report each model re-ranked by MMR at these λ (rows "MODEL+mmrλ"): 1 is no diversity.
    mmr_lambdas: tuple[float, ...] = ()


@dataclass
class ModelResult:
    """One model's row of the report; ``metrics`` uses the keys of :func:`all_metrics`."""

    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    recommend_seconds: float
    # The model gave every item of every list the same score (e.g. a CF model on held-out items,
    # which no training event touches): the list is the order ties are broken in, not a ranking.
    tied_scores: bool = False


@dataclass
class Report:
    """Everything needed to read (and reproduce) one evaluation run.

    ``n_train`` / ``n_test`` count events on each side of the split. ``n_test_pairs`` counts the
    (user, item) positives actually scored: test events of cold users, events with zero weight
    (e.g. skips) and pairs the user already has in training (unreachable with seen-item filtering,
    counted in ``test_pairs_seen_in_train``) are not among them.
    """

    dataset: str
    split: str
    split_description: str
    k: int
    seed: int
    n_users_evaluated: int
    n_items: int
    n_train: int
    n_test: int
    cold_users_skipped: int
    n_train_users: int = 0
    n_test_pairs: int = 0
    cold_events_skipped: int = 0
    test_pairs_seen_in_train: int = 0
    n_candidates: int = 0  # items ranked per user: the catalogue, or the held-out items of a cold split
    features: str = ""  # where the item feature vectors came from, when any model read them
    ild_space: str = "a truncated-SVD space of the training matrix"
    rows: list[ModelResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what makes these figures weak, in words


# A uniformly random list of K among N candidates holds K/N of a user's test items on average; from
# this share on, a high Recall@K says little, and the report says so.
WEAK_RANDOM_RECALL = 0.2


@dataclass(frozen=True)
class _Prepared:
    """The fixed inputs every model of one run shares."""

    train: Interactions
    test: sp.csr_matrix  # binary positives, rows/columns aligned with ``train``
    users: np.ndarray  # train rows with at least one positive: the evaluated users
    popularity: np.ndarray
    item_vectors: np.ndarray
    item_features: np.ndarray | None  # (n_items, dim) aligned with train.item_ids
    candidates: np.ndarray | None  # item positions ranked, None for the whole catalogue


def evaluate(
    dataset: Dataset,
    split_name: str,
    models: list[str],
    k: int = 20,
    seed: int = 42,
    model_params: dict[str, dict[str, Any]] | None = None,
    progress: Progress | None = None,
    options: EvalOptions | None = None,
    item_features: np.ndarray | None = None,
    features_source: str = "",
    aliases: dict[str, str] | None = None,
) -> Report:
    """Evaluate registry ``models`` on ``dataset`` under the split ``split_name`` at cut-off ``k``.

    ``model_params`` maps a model name to option overrides for :func:`mediarec.recommenders.create`
    (entries for models not in ``models`` are ignored).
    ``progress`` receives one line per step (splitting, fitting, ranking).
    ``item_features`` (rows aligned with ``dataset.item_ids``, zeros for items without any) go to
    every model's fit; models with ``uses_item_features`` need them. ``features_source`` names
    them in the report. ``aliases`` name rows that are registry models under another label
    (``{"tuned": "hybrid"}``: the tuned configuration beside the default hybrid).
    """
    opts = options or EvalOptions()
    say = progress or (lambda _msg: None)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    params = model_params or {}
    # Entries for registry models left out of this run are ignored, so one shared params table
    # can serve runs of different model subsets; names outside the registry are typos.
    alias = aliases or {}
    unknown = sorted(set(params) - set(MODELS) - set(alias))
    if unknown:
        raise ValueError(
            f"model_params name unknown models: {', '.join(unknown)}; choose from {', '.join(MODELS)}"
        )

    needing = [m for m in models if MODELS.get(alias.get(m, m), (Recommender,))[0].uses_item_features]
    if needing and item_features is None:
        raise ValueError(f"model(s) {', '.join(needing)} need item features; none were given")
    if item_features is not None and item_features.shape[0] != len(dataset.item_ids):
        raise ValueError(
            f"item_features have {item_features.shape[0]} rows for {len(dataset.item_ids)} catalogue items"
        )

    say(f"splitting {dataset.name} ({split_name})")
    split = make_split(dataset, split_name, seed=seed, test_fraction=opts.test_fraction)
    train = dataset.interactions(events=split.train)
    cold = ~np.isin(split.test.users, train.user_ids)
    warm_test = split.test.subset(~cold)
    test_all = dataset.interactions(events=warm_test, user_ids=train.user_ids).binary()
    seen = test_all.multiply(train.binary()).tocsr()
    seen.eliminate_zeros()
    test = (test_all - seen).tocsr()
    test.eliminate_zeros()
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    candidates = None
    ild_space = "a truncated-SVD space of the training matrix"
    item_vectors = default_item_vectors(train.matrix, opts.metrics)
    if split.candidates is not None:
        index = train.item_index()
        candidates = np.sort(np.array([index[str(i)] for i in split.candidates], dtype=np.int64))
        if item_features is not None:
            # Held-out items have no training events, hence no SVD direction: diversity among
            # them can only be measured in the content space.
            item_vectors = unit_item_vectors(item_features, center=True)
            ild_space = "the item feature vectors (centred, unit length)"
    n_candidates = train.n_items if candidates is None else len(candidates)
    if candidates is not None and n_candidates <= k:
        raise ValueError(
            f"the {split.name} split holds out {n_candidates} items, not more than K = {k}: every list "
            f"would hold all of them and every model would score Recall@{k} = 1.0; hold out more "
            "items or lower K"
        )
    say(f"{len(users)} test users, {test.nnz} test pairs, {n_candidates} items ranked")

    prepared = _Prepared(
        train=train,
        test=test,
        users=users,
        popularity=item_popularity(train.matrix),
        item_vectors=item_vectors,
        item_features=item_features,
        candidates=candidates,
    )
    report = Report(
        dataset=dataset.name,
        split=split.name,
        split_description=split.description,
        k=k,
        seed=seed,
        n_users_evaluated=len(users),
        n_items=train.n_items,
        n_train=len(split.train),
        n_test=len(split.test),
        cold_users_skipped=len(np.unique(split.test.users[cold])),
        n_train_users=train.n_users,
        n_test_pairs=int(test.nnz),
        cold_events_skipped=int(cold.sum()),
        test_pairs_seen_in_train=int(seen.nnz),
        n_candidates=n_candidates,
        features=features_source if item_features is not None else "",
        ild_space=ild_space,
    )
    if k / n_candidates >= WEAK_RANDOM_RECALL:
        report.warnings.append(
            f"Only {n_candidates:,} items are ranked at K = {k}: a random list already holds "
            f"{k / n_candidates:.0%} of each user's test items on average, so every model's Recall@{k} "
            "is high; compare with the random row, or rank more items (a larger --cold, a bigger "
            "catalogue) or lower K."
        )
    for name in models:
        report.rows.extend(
            _run_model(
                name,
                params.get(name, {}),
                prepared,
                k,
                opts.batch_size,
                say,
                opts.mmr_lambdas,
                alias.get(name, name),
            )
        )
    tied = [row.model for row in report.rows if row.tied_scores]
    if tied:
        report.warnings.append(
            f"{', '.join(tied)}: the model gave every item it ranked the same score"
            + (" (no training event touches a held-out item)" if candidates is not None else "")
            + ", so its list is only the order ties are broken in, the same for every such model: "
            "a floor, not a measurement of the model."
        )
    return report


def _run_model(
    name: str,
    params: dict[str, Any],
    data: _Prepared,
    k: int,
    batch_size: int,
    say: Progress,
    mmr_lambdas: tuple[float, ...] = (),
    registry_name: str = "",
) -> list[ModelResult]:
    model = create(registry_name or name, **params)
    say(f"fitting {name}")
    started = time.perf_counter()
    model.fit(data.train, item_features=data.item_features)
    fit_seconds = time.perf_counter() - started

    say(f"ranking with {name}")
    started = time.perf_counter()
    width = k * POOL_FACTOR if mmr_lambdas else k
    pool = np.full((len(data.users), width), -1, dtype=np.int64)
    pool_scores = np.full((len(data.users), width), -np.inf, dtype=np.float32)
    for start in range(0, len(data.users), batch_size):
        ids, scores = model.recommend(
            data.users[start : start + batch_size], n=width, filter_seen=True, candidates=data.candidates
        )
        # recommend() caps n at the catalogue size; the -1 padding keeps the K columns regardless.
        pool[start : start + len(ids), : ids.shape[1]] = ids
        pool_scores[start : start + len(ids), : ids.shape[1]] = scores
    recommend_seconds = time.perf_counter() - started
    tied = _all_tied(pool_scores[:, :k], pool[:, :k])

    lists = [(name, pool[:, :k])]
    for lam in mmr_lambdas:
        say(f"re-ranking {name} with MMR, lambda {lam:g}")
        lists.append((f"{name}+mmr{lam:g}", mmr_rerank(pool, pool_scores, data.item_vectors, k, lam)))
    out = []
    for label, top in lists:
        metrics = all_metrics(top, data.test[data.users], data.popularity, data.item_vectors)
        if data.candidates is not None:
            metrics["coverage"] = coverage(top, len(data.candidates))  # share of the ranked items
        out.append(
            ModelResult(
                model=label,
                params=dataclasses.asdict(model.params),
                metrics=metrics,
                fit_seconds=fit_seconds,
                recommend_seconds=recommend_seconds,
                tied_scores=tied,
            )
        )
    return out


def _all_tied(scores: np.ndarray, ids: np.ndarray) -> bool:
    """Whether every list (row) scored all its items alike; lists of one item say nothing."""
    listed = ids >= 0
    if not listed.any() or listed.sum(axis=1).max() < 2:
        return False
    high = np.where(listed, scores, -np.inf).max(axis=1)
    low = np.where(listed, scores, np.inf).min(axis=1)
    rows = listed.sum(axis=1) >= 2
    return bool(np.all(high[rows] == low[rows]))

"""Offline evaluation: split a dataset, fit each model on train, rank the whole catalogue, score.

The protocol is full ranking: every catalogue item is a candidate (no sampled negatives), items the
user already has in training are filtered out, and test items are kept even when no training user
touched them, because a real system would have to rank them too.
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
from mediarec.eval.metrics import MetricOptions, all_metrics, default_item_vectors, item_popularity
from mediarec.eval.splits import make_split
from mediarec.interactions import Interactions
from mediarec.recommenders import MODELS, create

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalOptions:
    """Knobs of :func:`evaluate` beyond the everyday ones in its signature."""

    test_fraction: float = 0.2  # share held out by the random and temporal splits
    batch_size: int = 1024  # test users ranked per recommend() call; bounds peak memory
    metrics: MetricOptions = field(default_factory=MetricOptions)


@dataclass
class ModelResult:
    """One model's row of the report; ``metrics`` uses the keys of :func:`all_metrics`."""

    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    recommend_seconds: float


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
    rows: list[ModelResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Prepared:
    """The fixed inputs every model of one run shares."""

    train: Interactions
    test: sp.csr_matrix  # binary positives, rows/columns aligned with ``train``
    users: np.ndarray  # train rows with at least one positive: the evaluated users
    popularity: np.ndarray
    item_vectors: np.ndarray


def evaluate(
    dataset: Dataset,
    split_name: str,
    models: list[str],
    k: int = 20,
    seed: int = 42,
    model_params: dict[str, dict[str, Any]] | None = None,
    progress: Progress | None = None,
    options: EvalOptions | None = None,
) -> Report:
    """Evaluate registry ``models`` on ``dataset`` under the split ``split_name`` at cut-off ``k``.

    ``model_params`` maps a model name to option overrides for :func:`mediarec.recommenders.create`
    (entries for models not in ``models`` are ignored).
    ``progress`` receives one line per step (splitting, fitting, ranking).
    """
    opts = options or EvalOptions()
    say = progress or (lambda _msg: None)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    params = model_params or {}
    # Entries for registry models left out of this run are ignored, so one shared params table
    # can serve runs of different model subsets; names outside the registry are typos.
    unknown = sorted(set(params) - set(MODELS))
    if unknown:
        raise ValueError(
            f"model_params name unknown models: {', '.join(unknown)}; choose from {', '.join(MODELS)}"
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
    say(f"{len(users)} test users, {test.nnz} test pairs, {train.n_items} items")

    prepared = _Prepared(
        train=train,
        test=test,
        users=users,
        popularity=item_popularity(train.matrix),
        item_vectors=default_item_vectors(train.matrix, opts.metrics),
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
    )
    for name in models:
        report.rows.append(_run_model(name, params.get(name, {}), prepared, k, opts.batch_size, say))
    return report


def _run_model(
    name: str, params: dict[str, Any], data: _Prepared, k: int, batch_size: int, say: Progress
) -> ModelResult:
    model = create(name, **params)
    say(f"fitting {name}")
    started = time.perf_counter()
    model.fit(data.train)
    fit_seconds = time.perf_counter() - started

    say(f"ranking with {name}")
    started = time.perf_counter()
    top = np.full((len(data.users), k), -1, dtype=np.int64)
    for start in range(0, len(data.users), batch_size):
        ids, _ = model.recommend(data.users[start : start + batch_size], n=k, filter_seen=True)
        # recommend() caps n at the catalogue size; the -1 padding keeps the K columns regardless.
        top[start : start + len(ids), : ids.shape[1]] = ids
    recommend_seconds = time.perf_counter() - started

    metrics = all_metrics(top, data.test[data.users], data.popularity, data.item_vectors)
    return ModelResult(
        model=name,
        params=dataclasses.asdict(model.params),
        metrics=metrics,
        fit_seconds=fit_seconds,
        recommend_seconds=recommend_seconds,
    )

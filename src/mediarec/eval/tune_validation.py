"""Validation for ``mediarec tune`` (:mod:`mediarec.eval.tune`): the training side of the outer
split, validation carved from it, and one configuration fitted and scored on a carve (a
:class:`Trial`), with fitted cores shared between trials through a cache bounded by bytes."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from mediarec.datasets.base import Dataset
from mediarec.eval.metrics import ndcg_at_k, recall_at_k
from mediarec.eval.splits import make_split
from mediarec.interactions import Interactions
from mediarec.recommenders import create
from mediarec.recommenders.hybrid import HybridRecommender


@dataclass
class Trial:
    number: int
    model: str  # registry name
    params: dict[str, Any]
    rung: int
    users: int  # validation users scored
    recall: float
    ndcg: float
    seconds: float
    cold_recall: float | None = None
    note: str = ""


@dataclass
class Validation:
    """One carved validation split: its training matrix, held-out positives, and a core cache."""

    train: Interactions
    heldout: sp.csr_matrix
    users: np.ndarray
    candidates: np.ndarray | None
    features: np.ndarray | None
    description: str
    cache: OrderedDict[tuple[object, ...], object] = field(default_factory=OrderedDict)
    cache_bytes: int = 3072 << 20

    @classmethod
    def carve(
        cls, ds: Dataset, split: str, seed: int, fraction: float, features: np.ndarray | None
    ) -> Validation:
        s = make_split(ds, split, seed=seed, test_fraction=fraction)
        train = ds.interactions(events=s.train)
        warm_test = s.test.subset(np.isin(s.test.users, train.user_ids))
        held = ds.interactions(events=warm_test, user_ids=train.user_ids).binary()
        held = (held - held.multiply(train.binary())).tocsr()
        held.eliminate_zeros()
        candidates = None
        if s.candidates is not None:
            index = train.item_index()
            candidates = np.sort(np.array([index[str(i)] for i in s.candidates], dtype=np.int64))
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        return cls(train, held, users, candidates, features, s.description)

    def score(self, number: int, name: str, params: dict[str, Any], users: np.ndarray, k: int) -> Trial:
        started = time.perf_counter()
        model = create(name, **params)
        if isinstance(model, HybridRecommender):
            model.core_cache = BoundedCache(self.cache, self.cache_bytes)
            # Blending at scoring time costs (kernel entries × users scored) per trial against
            # (kernel entries × items) once per core: the cheaper while the rung scores fewer
            # users than the catalogue has items (every rung at 9,742 items).
            model.borrow_at_score = 2 * len(users) < self.train.n_items
        model.fit(self.train, item_features=self.features)
        top = np.full((len(users), k), -1, dtype=np.int64)
        for start in range(0, len(users), 1024):
            ids, _ = model.recommend(users[start : start + 1024], n=k, candidates=self.candidates)
            top[start : start + len(ids), : ids.shape[1]] = ids
        held = self.heldout[users]
        return Trial(
            number=number,
            model=name,
            params=params,
            rung=0,
            users=len(users),
            recall=recall_at_k(top, held),
            ndcg=ndcg_at_k(top, held),
            seconds=time.perf_counter() - started,
        )


class BoundedCache(dict[tuple[object, ...], object]):
    """The hybrid's core cache seen through a least-recently-used bound on bytes (dense cores are
    items² floats; a bound on entries either wasted memory on small catalogues or, at 9,742
    items, evicted an ensemble's first core while its second was being fitted)."""

    def __init__(self, store: OrderedDict[tuple[object, ...], object], max_bytes: int) -> None:
        super().__init__()
        self._store, self._max = store, max_bytes

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __getitem__(self, key: tuple[object, ...]) -> object:
        self._store.move_to_end(key)
        return self._store[key]

    def __setitem__(self, key: tuple[object, ...], value: object) -> None:
        self._store[key] = value
        # The newest entry stays even alone over the bound: the trial that made it uses it.
        while len(self._store) > 1 and sum(_nbytes(v) for v in self._store.values()) > self._max:
            self._store.popitem(last=False)


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, sp.spmatrix | sp.sparray):
        return sum(getattr(value, a).nbytes for a in ("data", "indices", "indptr") if hasattr(value, a))
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value)
    return 0


def training_side(dataset: Dataset, outer_split: str, seed: int, outer_cold: float = 0.0) -> Dataset:
    """The dataset restricted to the training events of ``outer_split`` (all events for ""), less
    every event of the items ``evaluate --cold outer_cold`` will hold out. Folds are cleared, so
    inner splits treat it as unsplit data."""
    events = dataset.events
    if outer_split:
        events = make_split(dataset, outer_split, seed=seed).train
    if outer_cold > 0:
        held_out = make_split(dataset, "cold-items", seed=seed, test_fraction=outer_cold).candidates
        assert held_out is not None  # a cold-item split always names its held-out items
        events = events.subset(~np.isin(events.items, held_out))
    events = dataclasses.replace(events, folds=np.full(len(events), "", dtype=str))
    name = f"{dataset.name} [training side of {outer_split}]" if outer_split else dataset.name
    return Dataset(name=name, items=dataset.items, events=events)

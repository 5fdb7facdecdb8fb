"""Train/test splits of a dataset's events for offline evaluation.

Every split function has the same signature, ``(dataset, seed=42, test_fraction=0.2) -> Split``,
so that :data:`SPLITS` can dispatch on a name; splits that ignore an argument say so.

The per-user splits (random, leave-last-out) move whole (user, item) pairs: all of a user's events
on one item land on the same side. Otherwise a view in train and a like in test of the same item
would make a test positive that ``filter_seen`` can never recommend, deflating every model alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mediarec.datasets.base import Dataset, EventTable


class SplitError(ValueError):
    """The dataset cannot be split the way asked (no folds, unknown split name, bad fraction)."""


@dataclass(frozen=True)
class Split:
    """Two disjoint event tables that together hold every event of the dataset."""

    train: EventTable
    test: EventTable
    name: str
    description: str
    # Item ids a test user's ranking is restricted to (the cold-item protocol ranks held-out items
    # among themselves); None ranks the whole catalogue.
    candidates: np.ndarray | None = None


SplitFunction = Callable[..., Split]


def random_split(dataset: Dataset, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """Per user, a seeded random ``test_fraction`` of their distinct items goes to test.

    A user with ``n`` distinct items gets ``min(round(n * test_fraction), n - 1)`` of them in test
    (rounding half up), so a user with a single item keeps it in train and every test user also
    has training data.
    """
    _check_fraction(test_fraction)
    ev = dataset.events
    pair, pair_user = _pairs(ev)
    n_pairs = len(pair_user)
    if n_pairs == 0:
        return _make(ev, np.zeros(0, bool), "random", "empty dataset")
    # One random key per pair, then each user's pairs in key order: the first n_test go to test.
    keys = np.random.default_rng(seed).random(n_pairs)
    order = np.lexsort((keys, pair_user))
    counts = np.bincount(pair_user)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n_pairs, dtype=np.int64)
    rank[order] = np.arange(n_pairs) - starts[pair_user[order]]
    n_test = np.minimum(np.floor(counts * test_fraction + 0.5).astype(np.int64), counts - 1)
    pair_test = rank < n_test[pair_user]
    desc = (
        f"per user, a random {test_fraction:.0%} of their items to test (seed {seed}), "
        "all events of a user-item pair on one side; users with one item stay in train"
    )
    return _make(ev, pair_test[pair], "random", desc)


def temporal_split(dataset: Dataset, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """Global cut in time: events before the ``1 - test_fraction`` quantile of times train, the
    rest test. ``seed`` is unused (the split is deterministic).

    Events at exactly the cut time go to test, so no training event is later than a test event.
    Users who appear only after the cut have no training data; the runner reports them as cold.
    """
    _check_fraction(test_fraction)
    ev = dataset.events
    if len(ev) == 0:
        return _make(ev, np.zeros(0, bool), "temporal", "empty dataset")
    cut = float(np.quantile(ev.times, 1.0 - test_fraction))
    desc = f"events before the {1 - test_fraction:.0%} time quantile (t={cut:.0f}) train, the rest test"
    return _make(ev, ev.times >= cut, "temporal", desc)


def leave_last_out(dataset: Dataset, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """Per user, the item of their latest event goes to test (with all their events on it).

    Ties in time go to the event listed last. Users with a single item keep it in train.
    ``seed`` and ``test_fraction`` are unused.
    """
    ev = dataset.events
    pair, pair_user = _pairs(ev)
    n_pairs = len(pair_user)
    if n_pairs == 0:
        return _make(ev, np.zeros(0, bool), "leave-last-out", "empty dataset")
    user = pair_user[pair]
    # Sorting by (user, time, position) puts each user's latest event last in their run.
    order = np.lexsort((np.arange(len(ev)), ev.times, user))
    last = np.ones(len(ev), dtype=bool)
    last[:-1] = user[order][:-1] != user[order][1:]
    last_event = order[last]
    pairs_per_user = np.bincount(pair_user)
    keep = pairs_per_user[user[last_event]] > 1
    pair_test = np.zeros(n_pairs, dtype=bool)
    pair_test[pair[last_event[keep]]] = True
    desc = "each user's most recent item to test; users with one item stay in train"
    return _make(ev, pair_test[pair], "leave-last-out", desc)


def given_split(dataset: Dataset, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """The split the source ships (``EventTable.folds``). ``seed`` and ``test_fraction`` are unused."""
    folds = dataset.events.folds
    if not dataset.has_folds:
        missing = int(np.sum(folds == "")) if len(folds) else 0
        raise SplitError(
            f"dataset {dataset.name!r} has no given train/test folds "
            f"({missing} of {len(folds)} events lack one); use the random, temporal or leave-last-out split"
        )
    unknown = sorted(set(np.unique(folds).tolist()) - {"train", "test"})
    if unknown:
        raise SplitError(f"dataset {dataset.name!r} has folds other than train/test: {', '.join(unknown)}")
    return _make(dataset.events, folds == "test", "given", "the train/test folds shipped with the dataset")


def cold_item_count(dataset: Dataset, test_fraction: float = 0.2) -> int:
    """How many items :func:`cold_item_split` holds out, without splitting (to refuse early)."""
    return int(np.floor(len(np.unique(dataset.events.items)) * test_fraction + 0.5))


def cold_item_split(dataset: Dataset, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """Cold items: a seeded random ``test_fraction`` of the items that have events is held out
    entirely. Every event on them is test, every other event is train (shipped folds are ignored:
    the question is how well items nobody trained on are placed). ``candidates`` holds the
    held-out items, which the runner ranks among themselves for each user who met one.
    """
    _check_fraction(test_fraction)
    ev = dataset.events
    items = np.unique(ev.items)
    n_cold = cold_item_count(dataset, test_fraction)
    if len(items) < 2 or n_cold < 1 or n_cold >= len(items):
        raise SplitError(
            f"a cold-item split of {test_fraction:.0%} needs items on both sides; "
            f"{len(items)} items have events"
        )
    cold = np.sort(np.random.default_rng(seed).choice(items, size=n_cold, replace=False))
    test = np.isin(ev.items, cold)
    desc = (
        f"a random {test_fraction:.0%} of the items with events ({n_cold:,} of {len(items):,}, seed {seed}) "
        "held out entirely: all their events are test, ranked among the held-out items only"
    )
    return Split(
        train=ev.subset(~test), test=ev.subset(test), name="cold-items", description=desc, candidates=cold
    )


SPLITS: dict[str, SplitFunction] = {
    "random": random_split,
    "temporal": temporal_split,
    "leave-last-out": leave_last_out,
    "given": given_split,
    "cold-items": cold_item_split,
}


def make_split(dataset: Dataset, name: str, seed: int = 42, test_fraction: float = 0.2) -> Split:
    """The split called ``name`` (a key of :data:`SPLITS`)."""
    try:
        fn = SPLITS[name]
    except KeyError:
        raise SplitError(f"unknown split {name!r}; choose from {', '.join(SPLITS)}") from None
    return fn(dataset, seed=seed, test_fraction=test_fraction)


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise SplitError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")


def _pairs(ev: EventTable) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) pair index of each event, and the user index of each pair.

    Pairs are numbered in (user, item) order, so a user's pairs are contiguous.
    """
    if len(ev) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, user = np.unique(ev.users, return_inverse=True)
    _, item = np.unique(ev.items, return_inverse=True)
    user = user.astype(np.int64).reshape(-1)
    item = item.astype(np.int64).reshape(-1)
    width = int(item.max()) + 1
    keys, pair = np.unique(user * width + item, return_inverse=True)
    return pair.astype(np.int64).reshape(-1), (keys // width).astype(np.int64)


def _make(ev: EventTable, test: np.ndarray, name: str, description: str) -> Split:
    return Split(train=ev.subset(~test), test=ev.subset(test), name=name, description=description)

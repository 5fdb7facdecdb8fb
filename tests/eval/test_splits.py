from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from mediarec.datasets.base import Dataset
from mediarec.eval import (
    SPLITS,
    Split,
    SplitError,
    given_split,
    leave_last_out,
    make_split,
    random_split,
    temporal_split,
)
from tests.eval.synthetic import mixed_dataset, table


def ids(split_side) -> set[int]:
    return {int(v) for v in split_side.values}


def assert_partition(ds: Dataset, split: Split) -> None:
    train, test = ids(split.train), ids(split.test)
    assert not train & test
    assert train | test == set(range(len(ds.events)))
    assert len(split.train) + len(split.test) == len(ds.events)


def items_by_user(side) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for u, i in zip(side.users, side.items, strict=True):
        out[str(u)].add(str(i))
    return out


def test_random_split_per_user_fractions() -> None:
    ds = mixed_dataset()
    split = random_split(ds, seed=3)
    assert_partition(ds, split)
    assert split.name == "random"
    everything = items_by_user(ds.events)
    train, test = items_by_user(split.train), items_by_user(split.test)
    for user, its in everything.items():
        n = len(its)
        expected = min(int(np.floor(n * 0.2 + 0.5)), n - 1)
        assert len(test.get(user, set())) == expected, user
        if n == 1:
            assert train[user] == its  # a lone item stays in train
        # All events of a (user, item) pair land on one side.
        assert not train.get(user, set()) & test.get(user, set())


def test_random_split_is_seeded() -> None:
    ds = mixed_dataset()
    a, b, c = random_split(ds, seed=1), random_split(ds, seed=1), random_split(ds, seed=2)
    assert ids(a.test) == ids(b.test)
    assert ids(a.test) != ids(c.test)


def test_random_split_other_fraction() -> None:
    ds = mixed_dataset()
    split = random_split(ds, seed=0, test_fraction=0.5)
    assert_partition(ds, split)
    share = len(split.test) / len(ds.events)
    assert 0.35 < share < 0.55


def test_temporal_split_cuts_time() -> None:
    ds = mixed_dataset()
    split = temporal_split(ds)
    assert_partition(ds, split)
    assert split.train.times.max() < split.test.times.min()
    assert len(split.test) == pytest.approx(0.2 * len(ds.events), abs=2)


def test_temporal_split_ties_go_to_test() -> None:
    ev = table(["a", "b", "c", "d", "e"], ["1", "2", "3", "4", "5"], [1.0, 2.0, 3.0, 3.0, 3.0])
    split = temporal_split(Dataset("ties", [], ev), test_fraction=0.5)
    assert ids(split.train) == {0, 1}
    assert ids(split.test) == {2, 3, 4}


def test_leave_last_out_takes_latest_item() -> None:
    ds = mixed_dataset()
    split = leave_last_out(ds)
    assert_partition(ds, split)
    ev = ds.events
    test_items = items_by_user(split.test)
    for user in np.unique(ev.users):
        mine = ev.users == user
        n_items = len(np.unique(ev.items[mine]))
        if n_items == 1:
            assert user not in test_items
            continue
        latest = ev.items[mine][np.argmax(ev.times[mine])]
        assert test_items[str(user)] == {str(latest)}
    # A latest item with an earlier event too moves with all its events.
    for u, i in zip(split.test.users, split.test.items, strict=True):
        assert not np.any((split.train.users == u) & (split.train.items == i))


def test_leave_last_out_tie_goes_to_event_listed_last() -> None:
    ev = table(["a", "a", "a"], ["x", "y", "z"], [1.0, 5.0, 5.0])
    split = leave_last_out(Dataset("ties", [], ev))
    assert list(split.test.items) == ["z"]


def test_given_split_uses_folds() -> None:
    ev = table(
        ["a", "a", "b", "b"], ["1", "2", "1", "3"], [1, 2, 3, 4], folds=["train", "test", "train", "test"]
    )
    split = given_split(Dataset("folds", [], ev))
    assert ids(split.train) == {0, 2}
    assert ids(split.test) == {1, 3}


def test_given_split_without_folds_is_a_clear_error() -> None:
    with pytest.raises(SplitError, match="no given train/test folds"):
        given_split(mixed_dataset())
    partial = table(["a", "b"], ["1", "2"], [1, 2], folds=["train", ""])
    with pytest.raises(SplitError, match="1 of 2 events"):
        make_split(Dataset("partial", [], partial), "given")


def test_make_split_dispatches_and_validates() -> None:
    ds = mixed_dataset()
    assert set(SPLITS) == {"random", "temporal", "leave-last-out", "given", "cold-items"}
    assert ids(make_split(ds, "random", seed=5).test) == ids(random_split(ds, seed=5).test)
    assert make_split(ds, "leave-last-out").name == "leave-last-out"
    with pytest.raises(SplitError, match="unknown split 'nope'"):
        make_split(ds, "nope")
    with pytest.raises(SplitError, match="test_fraction"):
        make_split(ds, "temporal", test_fraction=1.0)


@pytest.mark.parametrize("name", ["random", "temporal", "leave-last-out"])
def test_empty_dataset_splits_to_empty(name: str) -> None:
    split = make_split(Dataset("empty", [], table([], [], [])), name)
    assert len(split.train) == 0
    assert len(split.test) == 0


def test_cold_item_split_holds_out_whole_items() -> None:
    from mediarec.eval.splits import cold_item_split

    ds = mixed_dataset()
    split = cold_item_split(ds, seed=3, test_fraction=0.2)
    assert_partition(ds, split)
    assert split.candidates is not None
    n_items = len(np.unique(ds.events.items))
    assert len(split.candidates) == round(n_items * 0.2)
    # Every event of a held-out item is test, and no training event touches one.
    assert set(split.test.items.tolist()) == set(split.candidates.tolist())
    assert not set(split.train.items.tolist()) & set(split.candidates.tolist())
    again = cold_item_split(ds, seed=3, test_fraction=0.2)
    other = cold_item_split(ds, seed=4, test_fraction=0.2)
    np.testing.assert_array_equal(split.candidates, again.candidates)
    assert not np.array_equal(split.candidates, other.candidates)
    assert make_split(ds, "cold-items", seed=3).name == "cold-items"


def test_cold_item_split_needs_items_on_both_sides() -> None:
    from mediarec.eval.splits import cold_item_split

    one = Dataset("one", [], table(["a", "b"], ["x", "x"], [1, 2]))
    with pytest.raises(SplitError, match="items on both sides"):
        cold_item_split(one)

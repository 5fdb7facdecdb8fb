"""Small in-memory datasets with known structure for the evaluation tests."""

from __future__ import annotations

import numpy as np

from mediarec.datasets.base import Dataset, EventTable
from mediarec.records import ItemRecord

DAY = 86400.0


def table(
    users: list[str] | np.ndarray,
    items: list[str] | np.ndarray,
    times: list[float] | np.ndarray,
    folds: list[str] | np.ndarray | None = None,
    types: list[str] | np.ndarray | None = None,
) -> EventTable:
    """Events whose ``values`` column holds the event's own position: an id to follow it through splits."""
    n = len(users)
    return EventTable(
        users=np.asarray(users, dtype=str),
        items=np.asarray(items, dtype=str),
        types=np.asarray(types if types is not None else ["rating"] * n, dtype=str),
        values=np.arange(n, dtype=np.float64),
        times=np.asarray(times, dtype=np.float64),
        folds=np.asarray(folds if folds is not None else [""] * n, dtype=str),
    )


def mixed_dataset(seed: int = 0) -> Dataset:
    """Users with 1 to 30 distinct items, a few repeated (user, item) pairs, distinct times."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    for u in range(60):
        n = 1 if u < 5 else int(rng.integers(2, 31))
        chosen = rng.choice(100, size=n, replace=False)
        users += [f"u{u}"] * n
        items += [f"i{i}" for i in chosen]
        if n > 3:  # a second event on one of the user's items, as a like after a view would be
            users.append(f"u{u}")
            items.append(f"i{chosen[0]}")
    times = rng.permutation(len(users)).astype(np.float64) * 60.0
    return Dataset(name="mixed", items=[], events=table(users, items, times))


def communities(
    n_communities: int = 4,
    users_per: int = 60,
    items_per: int = 50,
    per_user: int = 15,
    seed: int = 7,
) -> Dataset:
    """Planted structure: each user consumes only items of their own community, skewed towards a
    few favourites (Zipf-like within the community), at random times over 100 days.

    A model that finds the communities ranks the right quarter of the catalogue; random and global
    popularity spread their lists over all communities.
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, items_per + 1) ** 0.5
    weights /= weights.sum()
    users: list[str] = []
    items: list[str] = []
    for c in range(n_communities):
        for u in range(users_per):
            chosen = rng.choice(items_per, size=per_user, replace=False, p=weights)
            users += [f"c{c}u{u}"] * per_user
            items += [f"item{c * items_per + i}" for i in chosen]
    times = rng.uniform(0, 100 * DAY, size=len(users))
    catalogue = [ItemRecord(external_id=f"item{i}") for i in range(n_communities * items_per)]
    return Dataset(name="communities", items=catalogue, events=table(users, items, times))

"""A uniform sample of a store's users, chosen by primary key alone (rank/audience.py draws the users
whose taste vectors place the new-item bands from it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class UserIds(Protocol):
    def stored_user_ids(self, ids: Sequence[int]) -> set[int]: ...


def sample_users(store: UserIds, last_id: int, size: int) -> np.ndarray:
    """The internal ids (sorted) of ``size`` stored users, a uniform sample chosen by
    primary key alone, without reading anybody's events.

    Every id up to the next power of two above ``last_id`` has a fixed pseudo-random place in a
    permutation (:func:`_permuted`); the sample is the first ``size`` stored users in
    that order. Each user's place is a pseudo-random draw, so which users come first is a uniform
    sample of the stored ones, whatever ids were deleted or skipped. The order does not depend on
    the store's contents, so the sample stays the same from one refresh to the next except where it
    must: a deleted user drops out and the next stored one in the order takes the place, a new user
    enters only where their place comes first (the sample's noise does not move the band edges on
    every refresh). It changes as a whole only when the ids outgrow the power of two. The stored
    users without an event count as users without a taste, as those with only skips do."""
    bits = max(int(last_id).bit_length(), 1)
    found: list[int] = []
    start = 0
    # Candidates in blocks of about the users still missing, scaled by how sparse the ids are.
    while len(found) < size and start < 1 << bits:
        block = min(max(2 * (size - len(found)), 1024), (1 << bits) - start)
        candidates = _permuted(np.arange(start, start + block, dtype=np.uint64), bits).astype(np.int64)
        candidates = candidates[(candidates >= 1) & (candidates <= last_id)]
        stored = store.stored_user_ids(candidates.tolist())
        found.extend(int(c) for c in candidates if int(c) in stored)
        start += block
    return np.sort(np.asarray(found[:size], dtype=np.int64))


def _permuted(values: np.ndarray, bits: int) -> np.ndarray:
    """A fixed bijection of the integers 0 .. 2**bits - 1 onto themselves that scatters neighbours
    (odd multipliers modulo a power of two and xor-shifts are each one-to-one; splitmix64's
    constants)."""
    mask = np.uint64((1 << bits) - 1)
    shift = np.uint64(max(bits // 2, 1))
    x = values & mask
    with np.errstate(over="ignore"):
        for k in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB):
            x = (x * np.uint64(k)) & mask
            x ^= x >> shift
    return x

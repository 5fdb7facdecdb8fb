"""The tuner's validation side (eval/tune_validation.py): the byte-bounded cache of fitted cores."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from mediarec.eval.tune_validation import BoundedCache


def test_the_core_cache_is_bounded_by_bytes_least_recently_used_out() -> None:
    store: OrderedDict[tuple[object, ...], object] = OrderedDict()
    cache = BoundedCache(store, max_bytes=2_500_000)
    mb = np.zeros(250_000, dtype=np.float32)  # 1 MB
    cache[("a",)] = (mb.copy(), mb[:0])
    cache[("b",)] = mb.copy()
    assert cache[("a",)] is not None  # "a" used last: "b" is now the oldest
    cache[("c",)] = mb.copy()
    assert ("a",) in cache and ("c",) in cache and ("b",) not in cache
    cache[("big",)] = np.zeros(1_000_000, dtype=np.float32)  # 4 MB: alone over the bound, kept
    assert list(store) == [("big",)]

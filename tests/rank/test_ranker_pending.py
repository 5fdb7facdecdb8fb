"""Ranker.pending names the background work running now, so benchmarks time steady-state requests."""

from __future__ import annotations

import threading
import time

import numpy as np

from mediarec.rank import cf_index
from mediarec.rank.cf_index import LazyFactorIndex
from mediarec.rank.ranker import Ranker


def _until(ranker: Ranker, want: list[str], seconds: float = 5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (busy := ranker.pending()) != want and time.monotonic() < deadline:
        time.sleep(0.01)
    return busy


def test_pending_names_a_background_band_computation_until_it_ends() -> None:
    ranker = Ranker()
    assert ranker.pending() == []
    release = threading.Event()

    def compute(now: float) -> object:
        release.wait(5)
        return object()

    # A big catalogue's first bands: computed in the background, None meanwhile.
    assert ranker.bands.get(("snapshot",), ("inputs",), 0.0, compute, wait=False) is None  # type: ignore[arg-type]
    assert ranker.pending() == ["bands"]
    release.set()
    assert _until(ranker, []) == []
    assert ranker.bands.get(("snapshot",), ("inputs",), 0.0, compute, wait=False) is not None  # type: ignore[arg-type]


def test_lazy_factor_index_reports_its_build(tmp_path, monkeypatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = cf_index.FactorIndex.build

    def slow_build(factors: np.ndarray, threads: int = 0) -> cf_index.FactorIndex:
        started.set()
        release.wait(5)
        return real(factors, threads)

    monkeypatch.setattr(cf_index.FactorIndex, "build", staticmethod(slow_build))
    lazy = LazyFactorIndex(tmp_path, np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32))
    assert not lazy.building
    assert lazy.get() is None  # nothing saved: built on a background thread
    assert started.wait(5) and lazy.building
    release.set()
    deadline = time.monotonic() + 5
    while lazy.building and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not lazy.building and lazy.get() is not None

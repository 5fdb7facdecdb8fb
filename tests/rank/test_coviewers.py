"""Co-viewer counts from packed bit rows equal the counts over users, and the ranker uses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mediarec.engine import MediaRec
from mediarec.rank import RankOptions, Reason, coviewers
from mediarec.rank.coviewers import CoviewerBits, gathered
from mediarec.rank.ranker import ModelRef
from tests.rank.conftest import make_engine


def brute(seen: sp.csc_matrix, hist: np.ndarray, ranked: np.ndarray, own: int | None) -> list[int]:
    """The definition: users other than ``own`` with the ranked item and one of ``hist``."""
    mask = np.zeros(seen.shape, dtype=bool)
    for m in range(seen.shape[1]):  # every stored entry counts, as in the training matrix's structure
        mask[seen.indices[seen.indptr[m] : seen.indptr[m + 1]], m] = True
    peers = mask[:, hist].any(axis=1)
    if own is not None:
        peers[own] = False
    return [int((mask[:, m] & peers).sum()) for m in ranked]


@pytest.mark.parametrize("n_users", [1, 7, 8, 9, 61, 200])
def test_bits_equal_the_definition_and_the_gathered_counts(n_users: int) -> None:
    rng = np.random.default_rng(n_users)
    seen = sp.random(n_users, 40, density=0.3, format="csc", random_state=n_users, dtype=np.float32)
    bits = CoviewerBits(seen)
    assert bits.rows.shape == (40, (n_users + 7) // 8)
    for _ in range(30):
        hist = rng.choice(40, size=int(rng.integers(1, 12)), replace=False)
        ranked = rng.choice(40, size=10, replace=False)
        own = None if rng.random() < 0.2 else int(rng.integers(n_users))
        want = brute(seen, hist, ranked, own)
        assert bits.counts(hist, ranked, own).tolist() == want
        assert gathered(seen, hist, ranked, own).tolist() == want


def test_build_in_chunks_equals_build_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = sp.random(300, 120, density=0.1, format="csc", random_state=2, dtype=np.float32)
    whole = CoviewerBits(seen).rows
    monkeypatch.setattr(coviewers, "BUILD_CHUNK_BYTES", 700)  # two items' rows per chunk
    assert np.array_equal(CoviewerBits(seen).rows, whole)


def test_over_the_budget_no_bits() -> None:
    assert CoviewerBits.fits(sp.csc_matrix((6040, 3706)))
    assert not CoviewerBits.fits(sp.csc_matrix((100_000, 1_000_000)))


def _reasons(engine: MediaRec, users: list[str]) -> list[tuple[str, tuple[Reason, ...]]]:
    opts = RankOptions(explore_epsilon=0.0)
    return [(r.item_id, r.reasons) for u in users for r in engine.rank(u, n=20, options=opts).items]


def test_ranker_counts_with_bits_and_without_give_the_same_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path / "home")
    loaded = engine.loaded()
    assert loaded is not None
    users = [str(u) for u in loaded.model.user_ids[:12]]
    ranker = engine._ranker
    view = ranker.view(
        ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity),
        ranker.catalogs.get(engine.store),
    )
    assert view.coviewer_bits is not None  # the demo's matrix is far under the budget
    with_bits = _reasons(engine, users)
    counted = [r.evidence["coviewers"] for _, rs in with_bits for r in rs if r.kind == "collaborative"]
    assert counted  # the check below compares real collaborative reasons
    engine.close()

    monkeypatch.setattr(coviewers, "MAX_BYTES", 0)  # a fresh engine, its view over the budget
    again = MediaRec(tmp_path / "home")
    loaded = again.loaded()
    assert loaded is not None
    ranker = again._ranker
    view = ranker.view(
        ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity),
        ranker.catalogs.get(again.store),
    )
    assert view.coviewer_bits is None
    assert _reasons(again, users) == with_bits
    again.close()

"""gather_slices equals a loop of Python slices, on the CSR/CSC layouts its callers read."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mediarec.rank.slices import gather_slices


def looped(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The definition: one slice per (start, length), concatenated."""
    parts = [values[s : s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
    return np.concatenate(parts) if parts else values[:0]


@pytest.mark.parametrize("seed", range(5))
def test_rows_of_a_sparse_matrix_in_any_order_with_repeats_and_empty_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A users x items CSC matrix as coviewers reads it (int32 indptr), a third of its columns empty.
    dense = rng.random((20, 30)) < 0.3
    dense[:, ::3] = False
    m = sp.csc_matrix(dense.astype(np.float32))
    assert m.indptr.dtype == np.int32 and (np.diff(m.indptr) == 0).any()
    cols = rng.integers(0, m.shape[1], size=25)  # unsorted, repeats
    starts, lengths = m.indptr[cols], m.indptr[cols + 1] - m.indptr[cols]
    got = gather_slices(m.indices, starts, lengths)
    assert np.array_equal(got, looped(m.indices, starts, lengths))
    assert got.dtype == m.indices.dtype


def test_int64_layout_and_values_of_any_dtype() -> None:
    # int64 indptr, as the catalogue's tag index (explain.user_interests).
    indptr = np.array([0, 2, 2, 5, 6], dtype=np.int64)
    values = np.array([10.0, 11.0, 20.0, 21.0, 22.0, 30.0])
    items = np.array([3, 0, 2, 1, 3])
    starts, ends = indptr[items], indptr[items + 1]
    got = gather_slices(values, starts, ends - starts)
    assert got.tolist() == [30.0, 10.0, 11.0, 20.0, 21.0, 22.0, 30.0]
    assert np.array_equal(got, looped(values, starts, ends - starts))


def test_no_slices_or_only_empty_ones_gather_nothing() -> None:
    values = np.arange(5)
    none = np.zeros(0, dtype=np.int64)
    assert gather_slices(values, none, none).tolist() == []
    assert gather_slices(values, np.array([1, 3]), np.array([0, 0])).tolist() == []

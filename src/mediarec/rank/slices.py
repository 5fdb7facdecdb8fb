"""Many slices of one array gathered at once: the rows of a CSR (or columns of a CSC) matrix.

A Python slice per row cost a loop over the user's items in every ranking (co-viewers, interest
tags); one fancy index over all of them costs a few array operations whatever their number.
"""

from __future__ import annotations

import numpy as np


def gather_slices(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``values[s : s + n]`` for each ``s, n`` of ``starts, lengths``, concatenated in that order.

    Each output position is its slice's start plus its rank within the slice: the starts repeated
    once per element, shifted back by the elements of the slices before it.
    """
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return values[offsets + np.arange(int(lengths.sum()))]

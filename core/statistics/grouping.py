"""A block's values counted whole-column for the profile (core/statistics/profile.py): each
feature's distinct values once per block (a hash table, not a sort per slice), and the counts of
(slice, value) pairs of every slice at once (one `bincount` over combined codes), so that a block
costs a few vectorised passes per feature, whatever the number of slices.

What comes out is what counting the rows one slice at a time gave: a numeric feature's distinct
values ascending with their counts; a string feature's values in the order they first appear (in
the block, or within one slice's rows), as `collections.Counter` over those rows lists them.
"""

from typing import List, Tuple

import numpy as np
import pandas as pd

_BINCOUNT_CELLS = 1 << 22  # combined codes up to this many: bincount; beyond, a sort of the codes


class Values:
    """One dense column of a block (core.statistics.feature_profile.dense), factorised."""

    def __init__(self, numeric: bool, column: np.ndarray):
        self.numeric = numeric
        if numeric:
            present = ~np.isnan(column)
            values = column[present]
            self.rows = len(values)
            codes, uniques = pd.factorize(values, sort=True)
            self.ids = np.full(len(column), -1, dtype=np.int64)
            self.ids[present] = codes
            self.uniques = np.asarray(uniques, dtype=np.float64)
        else:  # None is missing (-1); the uniques in the order they first appear
            codes, uniques = pd.factorize(column)
            self.ids = np.asarray(codes, dtype=np.int64)
            self.uniques = list(uniques)
            self.rows = int((self.ids >= 0).sum())
        self.counts = np.bincount(self.ids[self.ids >= 0], minlength=len(self.uniques)).astype(np.int64)

    def whole(self):
        """The block's values: (sorted distinct values, counts) or [(string, count), ...]."""
        if self.numeric:
            return self.uniques, self.counts
        return list(zip(self.uniques, self.counts.tolist()))

    def by_slice(self, codes: np.ndarray, slices: int) -> List[Tuple[object, int]]:
        """Per slice code 0..slices-1: (values as `whole` gives them for that slice's rows, rows)."""
        width = max(len(self.uniques), 1)
        both = (codes >= 0) & (self.ids >= 0)
        combined = codes[both] * width + self.ids[both]
        if self.numeric:
            if slices * width <= min(_BINCOUNT_CELLS, 8 * len(combined) + 1024):  # else mostly empty cells
                tally = np.bincount(combined, minlength=slices * width)
                pairs = np.flatnonzero(tally)
                counts = tally[pairs].astype(np.int64)
            else:
                pairs, counts = np.unique(combined, return_counts=True)
                counts = counts.astype(np.int64)
            owner = pairs // width
            values = self.uniques[pairs % width]
            bounds = np.searchsorted(owner, np.arange(slices + 1), side="left")
            return [((values[lo:hi], counts[lo:hi]), int(counts[lo:hi].sum()))
                    for lo, hi in zip(bounds[:-1], bounds[1:])]
        first, pairs = pd.factorize(combined)  # pairs in the order they first appear
        counts = np.bincount(first, minlength=len(pairs)).tolist()
        owner = np.asarray(pairs, dtype=np.int64) // width
        result: List[list] = [[] for _ in range(slices)]
        for pair, slice_code, count in zip(np.asarray(pairs).tolist(), owner.tolist(), counts):
            result[slice_code].append((self.uniques[pair % width], count))
        return [(found, sum(c for _, c in found)) for found in result]


def slice_codes(column: np.ndarray):
    """(distinct values ascending, per row the index of its value or -1 where missing) of a slice
    key's column: np.unique's order (Python's order for strings), by hashing, not sorting rows."""
    if column.dtype == object:
        codes, uniques = pd.factorize(column)
        order = sorted(range(len(uniques)), key=lambda i: uniques[i])
        values = np.empty(len(uniques), dtype=object)
        values[:] = [uniques[i] for i in order]
        rank = np.empty(len(uniques), dtype=np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(uniques))
        codes = np.asarray(codes, dtype=np.int64)
        return values, np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else -1, -1)
    present = ~np.isnan(column)
    found, uniques = pd.factorize(column[present], sort=True)
    codes = np.full(len(column), -1, dtype=np.int64)
    codes[present] = found
    return np.asarray(uniques, dtype=np.float64), codes

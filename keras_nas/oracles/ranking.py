"""Rank normalisation of scores, shared by the strategies that learn from them.

A strategy that learns from the ranks of its scores rather than from the
scores sees the same thing for any metric, scale or direction, and a few
diverged trials (accuracy at chance, a huge loss) do not squash the
differences among the good ones. Every function takes finite numbers.

Example:

```python
ranking.quantile_ranks([3.0, 1.0, 2.0, 2.0])  # [1.0, 0.0, 0.5, 0.5]
ranking.quantile_rank(2.0, [1.0, 3.0])        # 0.5
```
"""

import statistics

import numpy as np


def ordinal_ranks(values):
    """Ranks from 1 (the smallest value) to `n`, ties broken by position.

    Ties are ordered as NumPy's default (not stable) sort leaves them.

    Args:
        values: A sequence of numbers.

    Returns:
        An integer array of the same length.
    """
    return np.argsort(np.argsort(values)) + 1


def mid_ranks(values):
    """Ranks from 0 (the smallest value) to `n - 1`, ties sharing their mean.

    Args:
        values: A sequence of numbers.

    Returns:
        A float array of the same length.
    """
    values = np.asarray(values, dtype=np.float64)
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    equal = np.searchsorted(ordered, values, side="right") - below
    return below + 0.5 * (equal - 1)


def quantile_ranks(values):
    """Ranks of `values` scaled to [0, 1], ties sharing their mean rank.

    Args:
        values: A sequence of numbers.

    Returns:
        A float array: 0 for the smallest value, 1 for the largest, 0.5
        everywhere for a single value.
    """
    if len(values) < 2:
        return np.full(len(values), 0.5)
    return mid_ranks(values) / (len(values) - 1)


def quantile_rank(value, others):
    """The fraction of `others` that `value` beats, ties counting half.

    Args:
        value: A number.
        others: A sequence of numbers.

    Returns:
        A float in [0, 1]; 0.5 when `others` is empty.
    """
    if not len(others):
        return 0.5
    return float(quantile_ranks([*others, value])[-1])


def normal_scores(values):
    """Maps values to standard normal quantiles of their ranks.

    Ties share the mean of their ranks. The result keeps the order of the
    values but not their spread.

    Args:
        values: A sequence of numbers.

    Returns:
        A float array of the same length.
    """
    ranks = mid_ranks(values)
    normal = statistics.NormalDist()
    return np.array([normal.inv_cdf((r + 0.5) / len(ranks)) for r in ranks])

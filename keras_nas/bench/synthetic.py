"""Synthetic landscapes of known structure over the architectures of a table.

A landscape scores each architecture by a sum of one weight per decision
and value (additive), plus, with `interaction > 0`, one weight per pair of
decisions and their values, all drawn once from a seed. The search metric
is that score plus noise, the report metric the score itself, as a search
on validation accuracy is reported by test accuracy. Strategies can be
checked on it against a structure known in advance: an additive score
rewards learning each decision alone, interactions reward learning them
together.

Example:

```python
table = bench.Table.from_csv("nb201_cifar10_12ep.csv")
landscape = synthetic.landscape(table, seed=0, interaction=0.5)
bench.run_benchmark(landscape, ["q_learning"], search_metric="search_score",
                    report_metric="score")
```
"""

import itertools

import numpy as np

from keras_nas import validation
from keras_nas.bench.table import Table

SEARCH_METRIC = "search_score"
"""The noisy score a search sees."""

REPORT_METRIC = "score"
"""The exact score its pick is reported by."""


def landscape(table, seed=0, interaction=0.0, noise=0.1):
    """A table of the same architectures with a synthetic score.

    Each decision (hyperparameter) `d` with value `v` adds a weight
    `w[d, v] ~ N(0, 1)`; each pair of decisions `(d, e)` with values
    `(v, u)` adds `interaction * x[d, e, v, u]`, `x ~ N(0, 1)`. The search
    metric adds `noise` times the score's standard deviation of Gaussian
    noise, fixed per architecture. Inactive decisions count as one more
    value.

    Args:
        table: A `Table`, whose architectures and space are kept.
        seed: Seed of the weights and the noise.
        interaction: Scale of the pairwise weights (0: additive).
        noise: Scale of the search metric's noise, relative to the score's
            standard deviation.

    Returns:
        A `Table` with the metrics `search_score` and `score` (higher is
        better).
    """
    seed = validation.check_non_negative_int("seed", seed)
    for name, value in (("interaction", interaction), ("noise", noise)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(
                f"Received an invalid value for `{name}`, expected a "
                f"non-negative number. Received: {name}={value!r}"
            )
    architectures = [table.architecture(row) for row in range(len(table))]
    names = sorted({name for values in architectures for name in values})
    codes = _codes(architectures, names)
    rng = np.random.default_rng(seed)
    levels = codes.max(axis=0) + 1
    score = np.zeros(len(architectures))
    for d, count in enumerate(levels):
        score += rng.normal(size=count)[codes[:, d]]
    if interaction:
        for d, e in itertools.combinations(range(len(names)), 2):
            weights = rng.normal(size=(levels[d], levels[e]))
            score += interaction * weights[codes[:, d], codes[:, e]]
    search = score + noise * score.std() * rng.normal(size=len(score))
    kind = f"interaction {interaction:g}" if interaction else "additive"
    return Table(
        table.hyperparameters, architectures,
        {SEARCH_METRIC: search, REPORT_METRIC: score},
        structure=table.structure,
        name=f"synthetic {kind} (seed {seed}) on {table.name}",
    )


def _codes(architectures, names):
    """Array `(rows, decisions)`: each value's index among that decision's."""
    codes = np.zeros((len(architectures), len(names)), dtype=np.int64)
    for d, name in enumerate(names):
        seen = {}
        for row, values in enumerate(architectures):
            value = values.get(name, None)
            codes[row, d] = seen.setdefault(repr(value), len(seen))
    return codes

"""Pareto dominance, non-dominated sorting, crowding and hypervolume.

Every function takes points as an array of shape `(n, k)`, column `j`
holding the values of `objectives[j]`, and the objectives as
`keras_tuner.Objective`s (a list of them, one, or KerasTuner's
`MultiObjective`), whose `direction` says whether larger (`"max"`) or
smaller (`"min"`) values are better. Internally points are turned to
minimisation (maximised columns negated); results are in the caller's
units and order.

Example:

```python
objectives = [kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")]
points = [[0.9, 5e5], [0.8, 1e5], [0.7, 3e5]]
pareto.pareto_indices(points, objectives)            # [0, 1]
pareto.non_dominated_ranks(points, objectives)       # [0, 0, 1]
pareto.hypervolume(points, objectives, [0.0, 1e6])   # 0.9 * 5e5 + 0.8 * 4e5
```
"""

import math

import keras_tuner as kt
import numpy as np

from keras_nas import compat

_DIRECTIONS = ("max", "min")


def check_objectives(objectives):
    """The single `keras_tuner.Objective`s of `objectives`, as a list.

    Args:
        objectives: A `keras_tuner.Objective`, a list or tuple of them, or
            KerasTuner's `MultiObjective` (what a list objective becomes).

    Returns:
        A non-empty list of `keras_tuner.Objective`.

    Raises:
        ValueError: If `objectives` holds anything else, is empty, repeats
            a name or has a direction other than `"max"` or `"min"`.
    """
    if isinstance(objectives, kt.Objective):
        found = compat.single_objectives(objectives)
    elif isinstance(objectives, (list, tuple)):
        found = list(objectives)
    else:
        found = None
    if (
        not found
        or not all(isinstance(o, kt.Objective) for o in found)
        or any(o.direction not in _DIRECTIONS for o in found)
        or len({o.name for o in found}) != len(found)
    ):
        raise ValueError(
            "Received an invalid value for `objectives`, expected a "
            "keras_tuner.Objective or a list of them with distinct names and "
            f"directions 'max' or 'min'. Received: objectives={objectives!r}"
        )
    return found


def minimisation(points, objectives):
    """The points turned to minimisation: maximised columns negated.

    Args:
        points: Array-like of shape `(n, k)` (or `(k,)` for one point).
        objectives: The `k` objectives (see `check_objectives`).

    Returns:
        A float array of shape `(n, k)`.

    Raises:
        ValueError: If the shape does not match the objectives or a value
            is not finite.
    """
    objectives = check_objectives(objectives)
    array = np.array(points, dtype=np.float64)
    if array.ndim == 1 and array.size == len(objectives):
        array = array[None]
    if array.size == 0:
        array = array.reshape(0, len(objectives))
    if array.ndim != 2 or array.shape[1] != len(objectives):
        raise ValueError(
            "Received an invalid value for `points`, expected an array of "
            f"shape (n, {len(objectives)}), one column per objective. "
            f"Received: points of shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            "Received an invalid value for `points`, expected finite values. "
            f"Received: points={array.tolist()!r}"
        )
    signs = np.array([-1.0 if o.direction == "max" else 1.0 for o in objectives])
    return array * signs


def dominates(first, second, objectives):
    """Whether `first` is at least as good as `second` everywhere, better once.

    Args:
        first: The `k` values of a point.
        second: The `k` values of another point.
        objectives: The `k` objectives.

    Returns:
        A bool.
    """
    a, b = minimisation([first, second], objectives)
    return bool(np.all(a <= b) and np.any(a < b))


def _domination_matrix(costs):
    """`matrix[i, j]`: whether point `i` dominates point `j` (minimisation)."""
    no_worse = np.all(costs[:, None, :] <= costs[None, :, :], axis=2)
    better = np.any(costs[:, None, :] < costs[None, :, :], axis=2)
    return no_worse & better


def non_dominated_sort(points, objectives):
    """Deb's fast non-dominated sort (NSGA-II, Deb et al., 2002).

    Front 0 holds the points no other point dominates; front `r` those
    dominated only by points of fronts `< r`. Equal points share a front.
    Time and memory `O(k n^2)`: meant for populations, not for whole tables
    (`pareto_indices` finds the first front of large sets).

    Args:
        points: Array-like of shape `(n, k)`.
        objectives: The `k` objectives.

    Returns:
        A list of integer arrays, the indices of each front in increasing
        order, best front first.
    """
    matrix = _domination_matrix(minimisation(points, objectives))
    dominated_by = matrix.sum(axis=0)
    fronts = []
    current = np.flatnonzero(dominated_by == 0)
    while current.size:
        fronts.append(current)
        dominated_by[current] = -1
        dominated_by -= matrix[current].sum(axis=0)
        current = np.flatnonzero(dominated_by == 0)
    return fronts


def non_dominated_ranks(points, objectives):
    """The front of each point (0 for the Pareto front), see `non_dominated_sort`.

    Returns:
        An integer array of length `n`.
    """
    fronts = non_dominated_sort(points, objectives)
    ranks = np.zeros(sum(len(f) for f in fronts), dtype=np.int64)
    for rank, front in enumerate(fronts):
        ranks[front] = rank
    return ranks


def crowding_distance(points, objectives):
    """NSGA-II's crowding distance of each point within its set.

    For each objective, the points are sorted by it; the two extremes get an
    infinite distance and every other point adds the gap between its two
    neighbours divided by the objective's range (an objective with no range
    adds nothing). Meant for the points of one front.

    Args:
        points: Array-like of shape `(n, k)`.
        objectives: The `k` objectives.

    Returns:
        A float array of length `n` (all infinite when `n <= 2`).
    """
    costs = minimisation(points, objectives)
    n = len(costs)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in costs.T:
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        distance[order[[0, -1]]] = np.inf
        spread = ordered[-1] - ordered[0]
        if spread > 0:
            distance[order[1:-1]] += (ordered[2:] - ordered[:-2]) / spread
    return distance


def _front_mask(costs):
    """Which rows of a minimisation array no other row dominates.

    Rows sorted lexicographically can only be dominated by earlier rows,
    and a dominated row by a row of the front, so each row is compared with
    the front found so far: `O(n log n + n f k)` for a front of `f` points.
    """
    order = np.lexsort(costs.T[::-1])
    mask = np.zeros(len(costs), dtype=bool)
    front = np.empty((0, costs.shape[1]))
    for index in order:
        row = costs[index]
        if not np.any(np.all(front <= row, axis=1) & np.any(front < row, axis=1)):
            mask[index] = True
            front = np.vstack([front, row])
    return mask


def pareto_indices(points, objectives):
    """The indices of the points no other point dominates (equal ones kept).

    Scales to large sets (a whole table): `O(n log n + n f k)` for a front
    of `f` points.

    Args:
        points: Array-like of shape `(n, k)`.
        objectives: The `k` objectives.

    Returns:
        An integer array, in increasing order.
    """
    return np.flatnonzero(_front_mask(minimisation(points, objectives)))


def hypervolume(points, objectives, reference):
    """The volume the points dominate, bounded by a reference point.

    The measure of the union of the boxes between each point and
    `reference` (Zitzler and Thiele, 1998). Points not strictly better than
    the reference in every objective add nothing. Exact: with 2 objectives a
    sweep in `O(n log n)`; with more, HSO, "hypervolume by slicing
    objectives" (While, Hingston, Barone and Huband, IEEE TEVC 2006): the
    space is cut into slabs along the last objective, each slab's volume is
    its width times the hypervolume, one objective fewer, of the points
    below it, down to the 2-objective sweep. That is `O(n^(k-1) log n)`
    for `k` objectives: instant for the hundreds of points of a search or
    a table's front with 3 objectives, and meant for small sets beyond.
    One objective is the distance from the best point to the reference.

    Args:
        points: Array-like of shape `(n, k)`.
        objectives: The `k` objectives.
        reference: The `k` values of the reference point, in the
            objectives' own units and directions (worse than the points
            that count: below a maximised objective, above a minimised one).

    Returns:
        A non-negative float (0.0 when no point beats the reference).

    Raises:
        ValueError: If `reference` does not have one finite value per
            objective.
    """
    objectives = check_objectives(objectives)
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (len(objectives),) or not np.isfinite(reference).all():
        raise ValueError(
            "Received an invalid value for `reference`, expected one finite "
            f"value per objective ({len(objectives)}). Received: "
            f"reference={reference.tolist()!r}"
        )
    costs = minimisation(points, objectives)
    bound = minimisation(reference, objectives)[0]
    costs = costs[np.all(costs < bound, axis=1)]
    if not len(costs):
        return 0.0
    costs = costs[_front_mask(costs)]
    return float(_slice_volume(costs, bound))


def _slice_volume(costs, bound):
    """HSO on minimisation points that all beat `bound` in every objective."""
    k = costs.shape[1]
    if k == 1:
        return bound[0] - costs[:, 0].min()
    if k == 2:
        order = np.lexsort((costs[:, 1], costs[:, 0]))
        x, y = costs[order, 0], costs[order, 1]
        widths = np.diff(np.append(x, bound[0]))
        return float(np.sum(widths * (bound[1] - np.minimum.accumulate(y))))
    order = np.argsort(costs[:, -1], kind="stable")
    costs = costs[order]
    levels = np.append(costs[:, -1], bound[-1])
    volume = 0.0
    for i in range(len(costs)):
        width = levels[i + 1] - levels[i]
        if width > 0:
            volume += width * _slice_volume(costs[: i + 1, :-1], bound[:-1])
    return volume


def trial_values(trial, objectives):
    """The value of each objective in a trial, or `None` if one is missing.

    Each objective's value is the best its metric reached over the trial's
    steps (epochs), in the objective's own direction. (KerasTuner registers
    the metrics of a list objective with directions guessed from their
    names, so the trial's own `get_best_value` may pick the wrong end.)

    Args:
        trial: A `keras_tuner.engine.trial.Trial`.
        objectives: The objectives.

    Returns:
        A float array with one value per objective, or `None` when the
        trial did not report one of them or one is not finite.
    """
    values = []
    for objective in check_objectives(objectives):
        if not trial.metrics.exists(objective.name):
            return None
        history = [obs.mean() for obs in trial.metrics.get_history(objective.name)]
        finite = [v for v in history if math.isfinite(v)]
        if not finite:
            return None
        values.append(max(finite) if objective.direction == "max" else min(finite))
    return np.array(values, dtype=np.float64)


def pareto_front(trials, objectives):
    """The completed trials that no other completed trial dominates.

    Trials that are not `COMPLETED`, or lack a finite value of an objective
    (see `trial_values`), are left out. Trials with equal values are all
    kept.

    Args:
        trials: An iterable of `keras_tuner.engine.trial.Trial`.
        objectives: The objectives.

    Returns:
        A list of trials, in the order given.
    """
    objectives = check_objectives(objectives)
    completed = kt.engine.trial.TrialStatus.COMPLETED
    scored = []
    for trial in trials:
        if trial.status == completed:
            values = trial_values(trial, objectives)
            if values is not None:
                scored.append((trial, values))
    if not scored:
        return []
    points = np.array([values for _, values in scored])
    return [scored[i][0] for i in pareto_indices(points, objectives)]

"""Tests for keras_nas.objectives.pareto: dominance, sorting, crowding, hypervolume."""

import itertools

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.objectives import pareto

MIN2 = [kt.Objective("a", "min"), kt.Objective("b", "min")]
ACC_PARAMS = [kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")]


def minimised(k):
    return [kt.Objective(f"m{j}", "min") for j in range(k)]


# --------------------------------------------------------------- dominance


def test_dominates_follows_the_directions():
    assert pareto.dominates([1, 2], [1, 3], MIN2)
    assert not pareto.dominates([1, 3], [1, 3], MIN2)  # equal: no
    assert not pareto.dominates([1, 4], [2, 3], MIN2)  # a trade-off: no
    assert pareto.dominates([0.9, 100], [0.8, 100], ACC_PARAMS)
    assert not pareto.dominates([0.8, 100], [0.9, 100], ACC_PARAMS)


def test_objectives_and_points_are_checked():
    for bad in ([], ["val_accuracy"], [kt.Objective("a", "up")],
                [kt.Objective("a", "min"), kt.Objective("a", "max")], "a"):
        with pytest.raises(ValueError, match="`objectives`.*objectives="):
            pareto.pareto_indices([[1.0]], bad)
    with pytest.raises(ValueError, match="shape \\(n, 2\\).*\\(2, 3\\)"):
        pareto.pareto_indices(np.ones((2, 3)), MIN2)
    with pytest.raises(ValueError, match="finite"):
        pareto.pareto_indices([[1.0, np.nan]], MIN2)
    multi = kt.engine.oracle.Oracle(objective=ACC_PARAMS, max_trials=1).objective
    assert pareto.check_objectives(multi) == ACC_PARAMS  # a MultiObjective
    assert pareto.check_objectives(ACC_PARAMS[0]) == ACC_PARAMS[:1]


# ----------------------------------------------- sorting, front, crowding

POINTS = [[1, 5], [2, 3], [4, 1], [3, 4], [5, 5], [2, 3]]
"""Front 0: 0, 1, 2 and 5 (equal to 1); front 1: 3; front 2: 4."""


def test_non_dominated_sort_by_hand():
    fronts = pareto.non_dominated_sort(POINTS, MIN2)
    assert [f.tolist() for f in fronts] == [[0, 1, 2, 5], [3], [4]]
    assert pareto.non_dominated_ranks(POINTS, MIN2).tolist() == [0, 0, 0, 1, 2, 0]
    assert pareto.pareto_indices(POINTS, MIN2).tolist() == [0, 1, 2, 5]
    # Maximising both reverses the order of the fronts.
    both_max = [kt.Objective("a", "max"), kt.Objective("b", "max")]
    assert pareto.pareto_indices(POINTS, both_max).tolist() == [4]
    assert pareto.non_dominated_ranks([[0.9, 5], [0.8, 1], [0.7, 3]],
                                      ACC_PARAMS).tolist() == [0, 0, 1]


def test_pareto_indices_agrees_with_the_sort_on_random_sets():
    rng = np.random.default_rng(0)
    for k in (2, 3, 4):
        points = rng.integers(0, 6, size=(80, k)).astype(float)  # with ties
        objectives = minimised(k)
        assert (pareto.pareto_indices(points, objectives).tolist()
                == pareto.non_dominated_sort(points, objectives)[0].tolist())
    assert pareto.pareto_indices(np.empty((0, 2)), MIN2).tolist() == []


def test_crowding_distance_by_hand():
    # Sorted by a: 1, 2, 4 (range 3); by b: 1, 3, 5 (range 4). The middle
    # point's neighbours span 3 of 3 and 4 of 4.
    distance = pareto.crowding_distance([[1, 5], [2, 3], [4, 1]], MIN2)
    assert distance.tolist() == [np.inf, 2.0, np.inf]
    distance = pareto.crowding_distance([[0, 4], [1, 3], [3, 1], [4, 0]], MIN2)
    assert distance.tolist() == [np.inf, 1.5, 1.5, np.inf]
    assert pareto.crowding_distance([[1, 1], [2, 0]], MIN2).tolist() == [np.inf] * 2
    # An objective without a range adds nothing.
    flat = pareto.crowding_distance([[0, 1], [1, 1], [2, 1]], MIN2)
    assert flat.tolist() == [np.inf, 1.0, np.inf]


# ------------------------------------------------------------ hypervolume


def test_hypervolume_by_hand():
    # Slabs along a: [1, 2] x height 1, [2, 4] x 3, [4, 6] x 5.
    assert pareto.hypervolume([[1, 5], [2, 3], [4, 1]], MIN2, [6, 6]) == 17.0
    assert pareto.hypervolume(POINTS, MIN2, [6, 6]) == 17.0  # dominated: nothing
    assert pareto.hypervolume([[0.9, 5e5], [0.8, 1e5], [0.7, 3e5]], ACC_PARAMS,
                              [0.0, 1e6]) == pytest.approx(0.9 * 5e5 + 0.8 * 4e5)
    three = minimised(3)
    assert pareto.hypervolume([[0, 0, 0]], three, [1, 2, 3]) == 6.0
    # Two boxes of 4 and 2 sharing [1, 2]^3.
    assert pareto.hypervolume([[0, 0, 1], [1, 1, 0]], three, [2, 2, 2]) == 5.0
    assert pareto.hypervolume([[3]], minimised(1), [5]) == 2.0
    # Points not better than the reference everywhere add nothing.
    assert pareto.hypervolume([[6, 0], [7, 7]], MIN2, [6, 6]) == 0.0
    assert pareto.hypervolume(np.empty((0, 2)), MIN2, [6, 6]) == 0.0


def test_hypervolume_reference_is_checked():
    for bad in ([1.0], [1.0, np.inf], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="`reference`.*reference="):
            pareto.hypervolume([[0, 0]], MIN2, bad)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_equals_a_grid_count(k):
    """Integer points on a grid: the volume is the number of unit cells dominated."""
    rng = np.random.default_rng(k)
    size = 6
    cells = np.array(list(itertools.product(range(size), repeat=k)))
    for _ in range(5):
        points = rng.integers(0, size, size=(rng.integers(1, 12), k))
        count = np.any(np.all(cells[:, None, :] >= points[None], axis=2), axis=1).sum()
        assert pareto.hypervolume(points, minimised(k), [size] * k) == count


@pytest.mark.parametrize("k", [3, 4])
def test_hypervolume_agrees_with_monte_carlo(k):
    rng = np.random.default_rng(10 + k)
    objectives = [kt.Objective("m0", "max")] + minimised(k)[1:]
    for _ in range(3):
        points = rng.random((15, k))
        samples = rng.random((100_000, k))
        costs = pareto.minimisation(points, objectives)
        # The box between the reference (0 for the maximised column, 1
        # otherwise) and the best values, in minimisation form.
        low, high = costs.min(axis=0), np.array([0.0] + [1.0] * (k - 1))
        sample_costs = low + samples * (high - low)
        dominated = np.any(
            np.all(sample_costs[:, None, :] >= costs[None], axis=2), axis=1
        )
        share = dominated.mean()
        estimate = share * np.prod(high - low)
        error = np.sqrt(share * (1 - share) / len(samples)) * np.prod(high - low)
        exact = pareto.hypervolume(points, objectives, [0.0] + [1.0] * (k - 1))
        assert abs(exact - estimate) < 4 * error


# ------------------------------------------------------------------ trials


def make_trial(trial_id, status="COMPLETED", **metrics):
    """A trial whose metrics hold lists of values, one per step."""
    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=trial_id,
                                  status=status)
    for name, values in metrics.items():
        for step, value in enumerate(values):
            trial.metrics.update(name, value, step=step)
    return trial


def test_trial_values_take_each_objective_at_its_best():
    # KerasTuner would register `params` as "min" and `val_accuracy` as
    # "max" from their names; `score` it cannot guess ("min").
    objectives = [kt.Objective("score", "max"), kt.Objective("params", "min")]
    trial = make_trial("0", score=[0.2, 0.7, 0.5], params=[10.0, 10.0, 10.0])
    assert pareto.trial_values(trial, objectives).tolist() == [0.7, 10.0]
    assert pareto.trial_values(make_trial("1", score=[0.2]), objectives) is None
    nan = make_trial("2", score=[np.nan], params=[1.0])
    assert pareto.trial_values(nan, objectives) is None


def test_pareto_front_of_trials():
    trials = [
        make_trial("0", val_accuracy=[0.9], params=[500.0]),
        make_trial("1", val_accuracy=[0.8], params=[100.0]),
        make_trial("2", val_accuracy=[0.7], params=[300.0]),  # dominated by 1
        make_trial("3", val_accuracy=[0.8], params=[100.0]),  # equal to 1
        make_trial("4", "FAILED", val_accuracy=[1.0], params=[1.0]),
        make_trial("5", "RUNNING", val_accuracy=[1.0], params=[1.0]),
        make_trial("6", val_accuracy=[0.99]),  # no params: left out
    ]
    front = pareto.pareto_front(trials, ACC_PARAMS)
    assert [t.trial_id for t in front] == ["0", "1", "3"]
    assert pareto.pareto_front([], ACC_PARAMS) == []
    best = pareto.pareto_front(trials, ACC_PARAMS[:1])
    assert [t.trial_id for t in best] == ["6"]

"""Several objectives in every strategy: own metrics, ParEGO, NSGA-II, the front.

Driven without training on the NB201 cell: `val_accuracy` counts the
cell's convolutions (a 3x3 one, a 1x1 one half, over the 6 edges;
maximised) and `cost` their parameters (9 per 3x3, 1 per 1x1; minimised),
two objectives that conflict: the front runs from no convolution to six
3x3 ones.
"""

import json

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.objectives import pareto
from keras_nas.strategies import STRATEGIES
from keras_nas.oracles import NSGA2Oracle
from keras_nas.oracles import RandomSearchOracle
from oracle_helpers import OBJECTIVE
from oracle_helpers import SETTINGS
from oracle_helpers import declared
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import start

OBJECTIVES = [kt.Objective("val_accuracy", "max"), kt.Objective("cost", "min")]

TABULAR = sorted(n for n, cls in STRATEGIES.items() if not cls.needs_training_data)


def metrics(values):
    ops = [v for k, v in values.items() if k.startswith("edge_")]
    large, small = ops.count("nor_conv_3x3"), ops.count("nor_conv_1x1")
    return {"val_accuracy": (large + 0.5 * small) / 6, "cost": float(9 * large + small)}


def make(name, objective=OBJECTIVES, **kwargs):
    return STRATEGIES[name](objective, **{**SETTINGS.get(name, {}), **kwargs})


def run_two(oracle, n, directory, project="p"):
    """Drives `oracle` for `n` trials reporting both metrics; returns them."""
    start(oracle, declared(nb201()), directory, project, space=nb201())
    return drive_two(oracle, n)


def drive_two(oracle, n):
    proposals = []
    for _ in range(n):
        trial = oracle.create_trial("w0")
        if trial.status == "STOPPED":
            break
        proposals.append(dict(trial.hyperparameters.values))
        finish(oracle, trial, metrics(proposals[-1]))
    return proposals


def front_volume(proposals):
    """Hypervolume of the proposals, reference: share 0 and cost 60."""
    points = [[m["val_accuracy"], m["cost"]] for m in map(metrics, proposals)]
    return pareto.hypervolume(points, OBJECTIVES, [0.0, 60.0])


@pytest.mark.parametrize("name", TABULAR)
def test_every_strategy_searches_several_objectives(name, tmp_path):
    """Each objective's own metric is read; the front is the completed trials'."""
    oracle = make(name, max_trials=30, seed=3)
    assert oracle.multi_objective and oracle.objectives == OBJECTIVES
    proposals = run_two(oracle, 30, tmp_path)
    enc = ArchitectureEncoding(declared(nb201()))
    assert len(proposals) == 30 and len(set(keys(enc, proposals))) == 30
    trials = list(oracle.trials.values())
    for trial in trials:
        m = metrics(trial.hyperparameters.values)
        # KerasTuner's MultiObjective value, from each objective's metric.
        assert trial.score == pytest.approx(m["cost"] - m["val_accuracy"])
    points = np.array([oracle.objective_values(t.trial_id) for t in trials])
    expected = [trials[i] for i in pareto.pareto_indices(points, OBJECTIVES)]
    assert oracle.get_pareto_front() == expected


@pytest.mark.parametrize("name", ["random", "grid"])
def test_random_and_grid_propose_as_for_one_objective(name, tmp_path):
    multi = run_two(make(name, max_trials=20, seed=4), 20, tmp_path, "multi")
    single = run_two(make(name, objective=OBJECTIVE, max_trials=20, seed=4), 20,
                     tmp_path, "single")
    assert multi == single


def test_fitness_is_a_parego_scalarisation_drawn_per_proposal(tmp_path):
    oracle = make("evolution", max_trials=40, seed=5)
    run_two(oracle, 12, tmp_path)
    drawn = []
    for worker in ("w1", "w2", "w3"):
        oracle.create_trial(worker)  # Draws a scalarisation; stays running.
        weights, low, spread = oracle._scalarisation
        drawn.append(weights)
        done = oracle.completed()
        values = np.array([oracle.objective_values(t) for t in done])
        costs = values * [-1.0, 1.0]
        np.testing.assert_allclose(low, costs.min(axis=0))
        np.testing.assert_allclose(spread, np.ptp(costs, axis=0))
        normalised = weights * (costs - low) / spread
        expected = -(normalised.max(axis=1) + 0.05 * normalised.sum(axis=1))
        np.testing.assert_allclose([oracle.fitness(t) for t in done], expected)
    for weights in drawn:
        assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert not np.allclose(drawn[0], drawn[1])


def test_a_one_objective_list_ranks_by_that_objective(tmp_path):
    oracle = make("evolution", objective=OBJECTIVES[:1], max_trials=10, seed=1)
    assert oracle.multi_objective
    run_two(oracle, 6, tmp_path)
    done = oracle.completed()
    by_fitness = sorted(done, key=oracle.fitness)
    by_value = sorted(done, key=lambda t: oracle.objective_values(t)[0])
    assert [oracle.objective_values(t)[0] for t in by_fitness] == [
        oracle.objective_values(t)[0] for t in by_value
    ]


@pytest.mark.parametrize("name", ["nsga2", "evolution", "bayesian", "reinforce"])
def test_reload_continues_the_same_multi_objective_search(name, tmp_path):
    first = make(name, max_trials=24, seed=6)
    before = run_two(first, 11, tmp_path, "resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))
    assert "weights_rng_state" in state
    second = make(name, max_trials=24, seed=6)
    start(second, declared(nb201()), tmp_path, "resumed", space=nb201())
    second.reload()
    after = drive_two(second, 24)
    straight = run_two(make(name, max_trials=24, seed=6), 24, tmp_path, "straight")
    assert before + after == straight


def test_nsga2_removes_the_worst_by_rank_then_crowding(tmp_path):
    oracle = NSGA2Oracle(OBJECTIVES, max_trials=20, seed=0, population_size=4)
    start(oracle, declared(nb201()), tmp_path, space=nb201())

    def add(share, cost):
        trial = oracle.create_trial("w0")
        finish(oracle, trial, {"val_accuracy": share, "cost": cost})
        return trial.trial_id

    def absorb(worker):
        oracle.create_trial(worker)  # Results are taken in at a proposal.

    front = [add(0.1, 1.0), add(0.5, 5.0), add(0.9, 9.0)]
    dominated = add(0.4, 6.0)  # (0.5, 5.0) is better in both
    middle = add(0.3, 3.0)
    absorb("w1")
    assert oracle.population == front + [middle]
    assert dominated not in oracle.population
    # All on one front: crowding 1.0 for the middle, 1.5 for (0.5, 5.0).
    ranks, crowding = oracle.ranking(oracle.population)
    assert ranks.tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(crowding, [np.inf, 1.5, np.inf, 1.0])
    # With (0.7, 7.0) every inner member has crowding 1.0: the oldest leaves.
    newest = add(0.7, 7.0)
    absorb("w2")
    assert oracle.population == [front[0], front[2], middle, newest]


def test_nsga2_population_is_a_tenth_of_the_budget_between_4_and_20():
    sizes = {t: NSGA2Oracle(OBJECTIVES, max_trials=t).population_size
             for t in (10, 50, 100, 150, 200, 1000)}
    assert sizes == {10: 4, 50: 5, 100: 10, 150: 15, 200: 20, 1000: 20}
    assert NSGA2Oracle(OBJECTIVES, max_trials=100, population_size=7).population_size == 7
    # The other population strategies keep theirs: a quarter, up to 20.
    assert STRATEGIES["evolution"](OBJECTIVES, max_trials=100).population_size == 20


@pytest.mark.parametrize("name", ["nsga2", "bayesian"])
def test_finds_a_better_front_than_random_search(name, tmp_path):
    """Over 5 seeds, the hypervolume of 60 queries beats random search's."""
    volumes = {"strategy": [], "random": []}
    for seed in range(5):
        oracle = make(name, max_trials=60, seed=seed)
        volumes["strategy"].append(
            front_volume(run_two(oracle, 60, tmp_path, f"{name}-{seed}"))
        )
        baseline = RandomSearchOracle(OBJECTIVES, max_trials=60, seed=seed)
        volumes["random"].append(
            front_volume(run_two(baseline, 60, tmp_path, f"random-{seed}"))
        )
    assert np.mean(volumes["strategy"]) > np.mean(volumes["random"])

"""Budgets before training: every strategy learns where they bite.

Driven without training on the NB201 cell space, with a cost that is the
number of weights its edges would carry (9 per 3x3 convolution, 1 per 1x1)
and a budget at the median of that cost over the whole space, so that half
of the architectures are infeasible; the score favours convolutions, so a
strategy left to itself drifts towards the infeasible half.
"""

import itertools

import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.objectives.costs import VIOLATION
from keras_nas.strategies import STRATEGIES
from keras_nas.oracles.feasibility import CostModel
from keras_nas.spaces.nb201 import OPERATIONS
from oracle_helpers import OBJECTIVE
from oracle_helpers import SETTINGS
from oracle_helpers import declared
from oracle_helpers import nb201
from oracle_helpers import score
from oracle_helpers import start

WEIGHTS = {"nor_conv_3x3": 9.0, "nor_conv_1x1": 1.0}
TRIALS = 60


def cost(values):
    return 1.0 + sum(
        WEIGHTS.get(v, 0.0) for k, v in values.items() if k.startswith("edge_")
    )


def median_cost():
    per_edge = [WEIGHTS.get(op, 0.0) for op in OPERATIONS]
    totals = [1.0 + sum(c) for c in itertools.product(per_edge, repeat=6)]
    return float(np.median(totals))


def feasible_shares(name, tmp_path, limits):
    """Drives `TRIALS` trials; returns whether each proposal was within budget."""
    space = nb201()
    settings = SETTINGS.get(name, {})
    oracle = STRATEGIES[name](OBJECTIVE, max_trials=TRIALS, seed=3, **settings)
    start(oracle, declared(space), tmp_path, space=space)
    oracle.max_consecutive_failed_trials = None  # As NASTuner sets it.
    oracle.set_constraints(limits)
    feasible = []
    for _ in range(TRIALS):
        trial = oracle.create_trial("w0")
        values = trial.hyperparameters.values
        measured = cost(values)
        limit = median_cost()
        if measured > limit:
            oracle.update_trial(trial.trial_id, {
                "params": measured, VIOLATION: measured / limit,
                "val_accuracy": float("nan"),
            })
            trial.status = "FAILED"
            trial.message = "infeasible: over budget"
            feasible.append(False)
        else:
            ops = [v for k, v in values.items() if k.startswith("edge_")]
            accuracy = ops.count("nor_conv_3x3") / 6 + 0.1 * score(values)
            oracle.update_trial(
                trial.trial_id, {"val_accuracy": accuracy, "params": measured}
            )
            trial.status = "COMPLETED"
            feasible.append(True)
        oracle.end_trial(trial)
    return feasible


@pytest.mark.filterwarnings("ignore:All-NaN")
@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"darts"}))
def test_each_strategy_proposes_mostly_feasible_architectures(name, tmp_path):
    feasible = feasible_shares(name, tmp_path / "screened", {"params": median_cost()})
    later = feasible[TRIALS // 2:]
    assert np.mean(later) >= 0.8, (name, np.mean(later))


@pytest.mark.filterwarnings("ignore:All-NaN")
def test_without_the_screen_random_search_stays_at_half(tmp_path):
    """The screen is what keeps random search feasible."""
    unscreened = feasible_shares("random", tmp_path, {})[TRIALS // 2:]
    assert 0.3 <= np.mean(unscreened) <= 0.7


def test_cost_model_predicts_an_additive_cost_in_the_log():
    hp = declared(nb201())
    encoding = ArchitectureEncoding(hp)
    rng = np.random.default_rng(0)
    vectors = [encoding.random_vector(rng) for _ in range(80)]
    measured = [{"params": cost(encoding.decode(v))} for v in vectors]
    model = CostModel({"params": median_cost()}, encoding.cardinalities)
    model.fit(vectors[:60], measured[:60])
    held_out = [
        (model.ratio(v) > 1) == (m["params"] > median_cost())
        for v, m in zip(vectors[60:], measured[60:])
    ]
    assert np.mean(held_out) >= 0.8


def test_cost_model_without_measurements_predicts_nothing_over_budget():
    hp = declared(nb201())
    encoding = ArchitectureEncoding(hp)
    model = CostModel({"params": 1.0}, encoding.cardinalities).fit([], [])
    vector = encoding.random_vector(np.random.default_rng(0))
    assert model.ratio(vector) == 0.0

"""Tests for QLearningOracle (MetaQNN), driven without training."""

import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles.q_learning import PAPER_SCHEDULE
from keras_nas.oracles.q_learning import QLearningOracle
from keras_nas.oracles.q_learning import epsilon_at
from oracle_helpers import OBJECTIVE
from oracle_helpers import continuous_space
from oracle_helpers import declared
from oracle_helpers import drive
from oracle_helpers import finish
from oracle_helpers import nb201
from oracle_helpers import score
from oracle_helpers import small_mlp
from oracle_helpers import start


def make(**kwargs):
    return QLearningOracle(OBJECTIVE, **kwargs)


def test_walk_skips_inactive_decisions(tmp_path):
    """On a conditional space "momentum" states follow "sgd" only."""
    hp = continuous_space()
    oracle = start(make(max_trials=30, seed=3), hp, tmp_path)
    drive(oracle)
    enc = ArchitectureEncoding(hp)
    sgd = enc.slots[enc.slot_of("optimizer")].choices.index("sgd")
    momentum = enc.slot_of("momentum")
    for state in oracle.q_table:
        position, previous_slot, previous_value = map(int, state.split("|"))
        if position == momentum:
            assert (previous_slot, previous_value) == (momentum - 1, sgd)


def test_epsilon_schedule_follows_the_paper_scaled_to_the_budget():
    # 1500 of 2700 models at epsilon 1.0: the first 55.6% of the budget.
    eps = [epsilon_at(PAPER_SCHEDULE, t, 100) for t in range(100)]
    assert eps[:56] == [1.0] * 56
    assert eps[56:60] == [0.9] * 4
    assert eps[-5:] == [0.1] * 5
    assert eps == sorted(eps, reverse=True)
    assert sorted(set(eps)) == pytest.approx([0.1 * k for k in range(1, 11)])
    assert epsilon_at([(1.0, 1), (0.0, 1)], 5, 10) == 0.0
    assert epsilon_at([(1.0, 1), (0.0, 1)], 4, 10) == 1.0
    oracle = make(max_trials=10, epsilon_schedule=[(1.0, 1), (0.2, 1)])
    assert oracle.epsilon == 1.0


def test_update_follows_the_q_learning_rule(tmp_path):
    oracle = make(max_trials=10, seed=0, learning_rate=0.5, initial_q=0.0)
    start(oracle, declared(small_mlp()), tmp_path)
    trajectory = [("0|-1|-1", 1), ("1|0|1", 0)]
    oracle._update(trajectory, 1.0)
    assert oracle.q_values("1|0|1")[0] == 0.5  # (1 - a) * 0 + a * r
    assert oracle.q_values("0|-1|-1")[1] == 0.25  # a * max Q(s')
    oracle._update(trajectory, 0.0)
    assert oracle.q_values("1|0|1")[0] == 0.25
    assert oracle.q_values("0|-1|-1")[1] == pytest.approx(0.25)


def test_greedy_walk_follows_the_q_table(tmp_path):
    space = nb201()
    oracle = make(max_trials=10, seed=0, initial_q=0.0)
    start(oracle, declared(space), tmp_path, space=space)
    enc = oracle.encoding
    conv = enc.slots[0].choices.index("nor_conv_3x3")
    previous = (-1, -1)
    for position in range(len(enc)):
        state = oracle.state_key(position, *previous)
        oracle.q_values(state)[conv] = 1.0
        previous = (position, conv)
    values = oracle._walk(epsilon=0.0)
    assert set(values.values()) == {"nor_conv_3x3"}


def test_rewards_are_percentiles(tmp_path):
    """Replay uses ranks: scaling the objective changes nothing."""
    proposals = {}
    for scale in (1.0, 1000.0):
        oracle = make(max_trials=30, seed=9, epsilon_schedule=[(1, 1), (0.2, 1)])
        start(oracle, declared(nb201()), tmp_path, str(scale))
        found = []
        for _ in range(30):
            trial = oracle.create_trial("w0")
            found.append(dict(trial.hyperparameters.values))
            finish(oracle, trial, {"val_accuracy": scale * score(found[-1])})
        proposals[scale] = found
        assert all(0.0 <= q <= 1.0 for row in oracle.q_table.values() for q in row)
    assert proposals[1.0] == proposals[1000.0]

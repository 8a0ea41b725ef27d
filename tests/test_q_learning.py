"""Tests for QLearningOracle (MetaQNN), driven without training."""

import json

import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles.q_learning import EARLY_SCHEDULE
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
    for state in oracle.get_state()["q_table"]:
        position, previous_slot, previous_value = map(int, state.split("|"))
        if position == momentum:
            assert (previous_slot, previous_value) == (momentum - 1, sgd)
    momentum_rows = [s for s in oracle.q_table().states if s.startswith("momentum")]
    assert momentum_rows == ["momentum | optimizer=sgd"]


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
    oracle = make(max_trials=10, schedule=[(1.0, 1), (0.2, 1)])
    assert oracle.epsilon == 1.0


def test_update_follows_the_q_learning_rule(tmp_path):
    """trace_decay=0 is MetaQNN's one-step rule."""
    oracle = make(max_trials=10, seed=0, learning_rate=0.5, initial_q=0.0,
                  trace_decay=0.0)
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
        oracle._q[state] = [1.0 if a == conv else None for a in range(5)]
        previous = (position, conv)
    values = oracle._walk(epsilon=0.0)
    assert set(values.values()) == {"nor_conv_3x3"}


def test_rewards_are_percentiles(tmp_path):
    """Replay uses ranks: scaling the objective changes nothing."""
    proposals = {}
    for scale in (1.0, 1000.0):
        oracle = make(max_trials=30, seed=9, schedule=[(1, 1), (0.2, 1)])
        start(oracle, declared(nb201()), tmp_path, str(scale))
        found = []
        for _ in range(30):
            trial = oracle.create_trial("w0")
            found.append(dict(trial.hyperparameters.values))
            finish(oracle, trial, {"val_accuracy": scale * score(found[-1])})
        proposals[scale] = found
        values = oracle.q_table().values
        assert np.all((values >= 0.0) & (values <= 1.0) | np.isnan(values))
    assert proposals[1.0] == proposals[1000.0]


def test_trace_decay_one_learns_from_the_reward(tmp_path):
    oracle = make(max_trials=10, seed=0, learning_rate=0.5, initial_q=0.0)
    start(oracle, declared(small_mlp()), tmp_path)
    trajectory = [("0|-1|-1", 1), ("1|0|1", 0)]
    oracle.q_values("1|0|1")  # Unvisited: initial values, nothing stored.
    assert oracle.get_state()["q_table"] == {}
    oracle._update(trajectory, 1.0)
    oracle._update(trajectory, 0.0)
    # Both pairs follow the rewards: 0.5 after 1.0, then 0.25 after 0.0;
    # the first pair ignores the max of the next state's values.
    assert oracle.q_values("1|0|1")[0] == 0.25
    assert oracle.q_values("0|-1|-1")[1] == 0.25
    mixed = make(max_trials=10, seed=0, learning_rate=1.0, initial_q=0.0,
                 trace_decay=0.5)
    start(mixed, declared(small_mlp()), tmp_path, "mixed")
    mixed.q_values("1|0|1")
    mixed._q["1|0|1"] = [None, 0.8]
    mixed._update(trajectory, 0.2)
    # Last pair: 0.2; max of its state then 0.8; first: 0.5 * 0.8 + 0.5 * 0.2.
    assert mixed.q_values("0|-1|-1")[1] == pytest.approx(0.5)


def test_prior_initial_values_are_each_decisions_mean_reward(tmp_path):
    space = nb201()
    oracle = start(make(max_trials=20, seed=4), declared(space), tmp_path,
                   space=space)
    assert oracle.initial_q == "prior"
    assert oracle.q_values("2|0|1") == [0.5] * 5  # No result yet.
    drive(oracle, max_proposals=8)
    vectors = [oracle.vector(t) for t in oracle.memory]
    rewards = oracle._rewards()
    unseen = next(
        oracle.state_key(2, 1, value) for value in range(5)
        if oracle.state_key(2, 1, value) not in oracle.get_state()["q_table"]
    )
    for action, q in enumerate(oracle.q_values(unseen)):
        took = [r for v, r in zip(vectors, rewards) if v[2] == action]
        assert q == pytest.approx(np.mean(took) if took else 0.5)


def test_schedules_by_name_and_by_pairs():
    assert make(max_trials=10).epsilon_schedule == EARLY_SCHEDULE
    metaqnn = make(max_trials=100, schedule="metaqnn")
    assert metaqnn.epsilon_schedule == PAPER_SCHEDULE and metaqnn.epsilon == 1.0
    # The early schedule exploits well before half the budget.
    eps = [epsilon_at(EARLY_SCHEDULE, t, 100) for t in range(100)]
    assert eps[:10] == [1.0] * 10 and eps[30:] == [0.05] * 70
    assert eps == sorted(eps, reverse=True)
    assert make(max_trials=10, schedule=[(0.3, 1)]).epsilon == 0.3
    with pytest.raises(ValueError, match="schedule='paper'"):
        make(schedule="paper")


def test_q_table_is_labelled_and_survives_a_reload(tmp_path):
    space = small_mlp()
    hp = declared(space)
    oracle = start(make(max_trials=30, seed=2), hp, tmp_path)
    drive(oracle, max_proposals=12)
    table = oracle.q_table()
    enc = oracle.encoding
    assert table.values.shape == (len(table.states), len(table.actions))
    assert len(table.states) == len(oracle.get_state()["q_table"])
    assert table.states[0] == enc.slots[0].name  # The first decision's state.
    assert all(" | " in label for label in table.states[1:])
    assert set(table.actions) == {str(c) for s in enc.slots for c in s.choices}
    # Each row holds its slot's values, nan elsewhere.
    first = table.values[0]
    assert np.sum(~np.isnan(first)) == len(enc.slots[0].choices)
    json.dumps(oracle.get_state())  # JSON-safe.
    reloaded = start(make(max_trials=30, seed=2), hp, tmp_path)
    reloaded.reload()
    again = reloaded.q_table()
    assert again.states == table.states and again.actions == table.actions
    np.testing.assert_array_equal(again.values, table.values)

"""Tests for QLearningOracle (MetaQNN), driven without training."""

import json

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import RandomSearchOracle
from keras_nas.oracles.q_learning import PAPER_SCHEDULE
from keras_nas.oracles.q_learning import QLearningOracle
from keras_nas.oracles.q_learning import epsilon_at
from oracle_helpers import OBJECTIVE
from oracle_helpers import assert_canonical
from oracle_helpers import continuous_space
from oracle_helpers import conv_share
from oracle_helpers import declared
from oracle_helpers import deep_mlp
from oracle_helpers import drive
from oracle_helpers import fingerprint
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import score
from oracle_helpers import small_mlp
from oracle_helpers import start


def make(**kwargs):
    return QLearningOracle(OBJECTIVE, **kwargs)



def test_never_repeats_and_stops_when_the_space_is_spent(tmp_path):
    """small_mlp holds 72 architectures: all are proposed once, then STOPPED."""
    oracle = make(max_trials=100, seed=1)
    proposals, stopped = run(oracle, small_mlp(), tmp_path)
    assert stopped and len(proposals) == 72
    enc = ArchitectureEncoding(declared(small_mlp()))
    assert len(set(keys(enc, proposals))) == 72
    for values in proposals:
        assert_canonical(enc, values)


def test_works_on_a_plain_keras_tuner_space(tmp_path):
    hp = continuous_space()
    oracle = start(make(max_trials=30, seed=3), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 30
    enc = ArchitectureEncoding(hp)
    for values in proposals:
        assert 1e-4 <= values["lr"] <= 1e-1
        assert ("momentum" in values) == (values["optimizer"] == "sgd")
        assert_canonical(enc, values)
    assert len(set(keys(enc, proposals))) == 30
    # The walk skips inactive decisions: "momentum" states only after "sgd".
    sgd = enc.slots[enc.slot_of("optimizer")].choices.index("sgd")
    momentum = enc.slot_of("momentum")
    for state in oracle.q_table:
        position, previous_slot, previous_value = map(int, state.split("|"))
        if position == momentum:
            assert (previous_slot, previous_value) == (momentum - 1, sgd)


def test_same_seed_same_proposals(tmp_path):
    first, _ = run(make(max_trials=30, seed=4), nb201(), tmp_path, project="a")
    second, _ = run(make(max_trials=30, seed=4), nb201(), tmp_path, project="b")
    other, _ = run(make(max_trials=30, seed=5), nb201(), tmp_path, project="c")
    assert first == second
    assert first != other


def test_save_and_reload_continues_the_same_search(tmp_path):
    space = deep_mlp()
    schedule = [(1.0, 1), (0.5, 1), (0.1, 2)]  # exploit early: Q-table in use
    first = make(max_trials=40, seed=6, epsilon_schedule=schedule)
    before, _ = run(first, space, tmp_path, n=17, project="resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON-safe
    assert state["q_table"] and len(state["memory"]) == 16

    second = make(max_trials=40, seed=6, epsilon_schedule=schedule)
    start(second, declared(space), tmp_path, "resumed", space=space)
    second.reload()
    reloaded = second.get_state()
    # KerasTuner keeps `tried_so_far` as a set: compare it unordered.
    assert sorted(reloaded.pop("tried_so_far")) == sorted(state.pop("tried_so_far"))
    assert reloaded == state
    after, stopped = drive(second)
    assert stopped and len(before) + len(after) == 40

    expected, _ = run(
        make(max_trials=40, seed=6, epsilon_schedule=schedule), space, tmp_path,
        project="straight",
    )
    assert before + after == expected


def test_asynchronous_workers_get_proposals_without_waiting(tmp_path):
    """Several workers hold trials at once; results arrive out of order."""
    space = nb201()
    oracle = make(max_trials=40, seed=7, epsilon_schedule=[(1.0, 1), (0.1, 1)])
    start(oracle, declared(space), tmp_path, space=space)
    enc = ArchitectureEncoding(declared(space))
    seen = []
    running = {}
    rng = np.random.default_rng(0)
    while True:
        for worker in ("w0", "w1", "w2"):
            if worker not in running:
                trial = oracle.create_trial(worker)
                if trial.status == "STOPPED":
                    continue
                assert trial.status == "RUNNING"
                running[worker] = trial
                seen.append(dict(trial.hyperparameters.values))
        if not running:
            break
        worker = list(running)[int(rng.integers(len(running)))]
        trial = running.pop(worker)
        finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    assert len(seen) == 40
    assert len(set(keys(enc, seen))) == 40
    # Results are learnt from in the order trials ended.
    assert len(oracle.memory) >= 37
    assert oracle.memory == oracle.end_order[: len(oracle.memory)]


def test_failed_trials_are_not_learnt_from(tmp_path):
    oracle = make(max_trials=20, seed=8)
    start(oracle, declared(nb201()), tmp_path)
    failed = set()
    for i in range(16):
        trial = oracle.create_trial("w0")
        if i % 4 == 0:
            trial.status = "FAILED"
            failed.add(trial.trial_id)
            oracle.end_trial(trial)
        else:
            finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    oracle.create_trial("w0")
    assert len(oracle.memory) == 12 and not failed & set(oracle.memory)


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


def test_learns_better_architectures_than_random(tmp_path):
    """On a structured objective the agent's later picks beat random's."""
    space = nb201()
    shares = {}
    for name, oracle in [
        ("q_learning", make(max_trials=60, seed=0)),
        ("random", RandomSearchOracle(OBJECTIVE, max_trials=60, seed=0)),
    ]:
        start(oracle, declared(space), tmp_path, name, space=space)
        values = []
        for _ in range(60):
            trial = oracle.create_trial("w0")
            values.append(conv_share(trial.hyperparameters.values))
            finish(oracle, trial, {"val_accuracy": values[-1]})
        shares[name] = np.mean(values[40:])
    assert shares["random"] < 0.27
    assert shares["q_learning"] > 0.32


def test_direction_of_the_objective_is_followed(tmp_path):
    means = {}
    for direction in ("min", "max"):
        oracle = make(max_trials=60, seed=10,
                      epsilon_schedule=[(1.0, 1), (0.5, 1), (0.1, 1)])
        oracle.objective = kt.Objective("val_score", direction=direction)
        start(oracle, declared(nb201()), tmp_path, direction)
        values = []
        for _ in range(60):
            trial = oracle.create_trial("w0")
            values.append(conv_share(trial.hyperparameters.values))
            finish(oracle, trial, {"val_score": values[-1]})
        means[direction] = np.mean(values[40:])
    assert means["max"] - means["min"] > 0.1


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": 1.5}, "learning_rate"),
        ({"initial_q": "high"}, "initial_q"),
        ({"replay_size": 0}, "replay_size"),
        ({"epsilon_schedule": []}, "epsilon_schedule"),
        ({"epsilon_schedule": [(1.5, 1)]}, "epsilon_schedule"),
        ({"epsilon_schedule": [(0.5, 0)]}, "epsilon_schedule"),
        ({"epsilon_schedule": [0.5]}, "epsilon_schedule"),
    ],
)
def test_argument_errors(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        QLearningOracle(OBJECTIVE, **kwargs)
    assert f"{argument}=" in str(info.value)


def test_permanence(tmp_path):
    """Pins the first proposals of QLearningOracle(seed=1)."""
    oracle = make(max_trials=12, seed=1, epsilon_schedule=[(1.0, 1), (0.2, 1)])
    proposals, _ = run(oracle, nb201(), tmp_path)
    assert [p["edge_1_0"] for p in proposals[:4]] == PINNED["first"]
    assert fingerprint(proposals) == PINNED["all"]


PINNED = {
    "first": ["nor_conv_3x3", "avg_pool_3x3", "avg_pool_3x3", "nor_conv_1x1"],
    "all": 2890649319,
}

"""Tests for ReinforceOracle, driven directly (no training) and in a tiny search."""

import numpy as np

import keras_nas as kn
from keras_nas.encoding import INACTIVE
from keras_nas.oracles.reinforce import ReinforceOracle
from oracle_helpers import OBJECTIVE
from oracle_helpers import declared
from oracle_helpers import nb201
from oracle_helpers import small_mlp
from oracle_helpers import start


def make(**kwargs):
    return ReinforceOracle(OBJECTIVE, **kwargs)


def test_updates_raise_the_probability_of_good_decisions(tmp_path):
    oracle = start(make(max_trials=5, seed=8), declared(small_mlp()), tmp_path)
    policy = oracle.controller
    vectors = policy.sample(oracle.encoding.slots, 2, oracle.rng)
    before, _ = policy.log_prob(vectors)
    policy.update(vectors, [1.0, -1.0])
    after, _ = policy.log_prob(vectors)
    assert after[0] > before[0] and after[1] < before[1]


def test_inactive_decisions_are_skipped(tmp_path):
    oracle = start(make(max_trials=5, seed=9), declared(small_mlp()), tmp_path)
    enc = oracle.encoding
    vectors = oracle.controller.sample(enc.slots, 64, oracle.rng)
    for vector in vectors:
        np.testing.assert_array_equal(vector, enc.repair(vector, oracle.rng))
    inactive = vectors == INACTIVE
    assert inactive.any() and not inactive.all(axis=0).any()


def test_tiny_search_with_nas_tuner_and_resume(tiny_images, tmp_path):
    """The controller survives the tuner's clear_session and is resumed."""
    space = kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:],
        num_classes=3,
        max_layers=2,
        widths=(4, 8),
        activations=("relu",),
        dropout_rates=(0.0,),
    )
    x, y = tiny_images

    def search(max_trials):
        oracle = ReinforceOracle("val_accuracy", max_trials=max_trials, seed=1)
        tuner = kn.NASTuner(
            space,
            strategy=oracle,
            directory=tmp_path,
            project_name="p",
            seed=1,
            verbose=0,
        )
        tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=12)
        return oracle

    oracle = search(3)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 3
    assert oracle.controller_updates == 2
    oracle = search(4)  # Resumes: reloads the controller, runs one trial.
    assert len(oracle.trials) == 4
    assert oracle.controller_updates == 3
    values = [
        tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()
    ]
    assert len(set(values)) == 4


def test_exploration_floor_keeps_every_decision_reachable(tmp_path):
    """Pushed hard toward one cell, the policy keeps each value's share of
    `exploration / cardinality`, without it, it does not."""
    floor = 0.2 / 5  # NB201: 6 edges of 5 operations.
    lowest = {}
    for exploration in (0.0, 0.2):
        oracle = start(
            make(max_trials=5, seed=8, learning_rate=0.05, exploration=exploration),
            declared(nb201()), tmp_path, f"p{exploration}",
        )
        policy = oracle.controller
        target = np.zeros((1, 6), dtype=np.int64)
        others = np.arange(1, 5)[:, None] + np.zeros((1, 6), dtype=np.int64)
        before, _ = policy.log_prob(target)
        for _ in range(40):
            policy.update(target, [1.0])
        after, _ = policy.log_prob(target)
        assert after[0] > before[0] + 3.0  # The policy still learns.
        lowest[exploration] = policy.log_prob(others)[0].min()
        samples = policy.sample(oracle.encoding.slots, 200, oracle.rng)
        lowest[exploration, "off"] = np.mean(samples != 0)
    assert lowest[0.2] >= 6 * np.log(floor) - 1e-4
    assert lowest[0.0] < 6 * np.log(floor)
    assert lowest[0.2, "off"] >= 0.5 * 4 * floor > lowest[0.0, "off"]

"""Tests for DLSOracle, driven directly (no training) and in a tiny search."""

import os

import numpy as np
import pytest

import keras_nas as kn
from keras_nas.oracles.dls import DLSOracle
from keras_nas.oracles.dls import default_num_initial_points
from keras_nas.oracles.ranking import quantile_ranks
from oracle_helpers import OBJECTIVE
from oracle_helpers import conv_share
from oracle_helpers import declared
from oracle_helpers import finish
from oracle_helpers import nb201
from oracle_helpers import start


# Under pytest-xdist (--dist loadgroup) the whole file runs on one worker,
# so its expensive module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("dls")


def make(**kwargs):
    """A DLS oracle; short trainings unless a test asks for the defaults."""
    kwargs.setdefault("num_initial_points", 8)
    kwargs.setdefault("train_steps", 30)
    return DLSOracle(OBJECTIVE, **kwargs)


def trained(directory, n=30, **kwargs):
    """A DLS oracle trained on `n` NB201 trials scored by `conv_share`."""
    oracle = make(max_trials=n + 1, seed=12, train_steps=100, **kwargs)
    start(oracle, declared(nb201()), directory, space=nb201())
    for _ in range(n):
        trial = oracle.create_trial("w0")
        finish(
            oracle, trial, {"val_accuracy": conv_share(trial.hyperparameters.values)}
        )
    oracle.populate_space("extra")  # Absorbs the last result (and trains).
    return oracle


@pytest.fixture(scope="module")
def trained_oracle(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("trained"), n=28)


def test_reconstructs_its_training_architectures(trained_oracle):
    oracle = trained_oracle
    vectors = np.stack([oracle.vector(t) for t in oracle.results])
    controller = oracle.controller
    np.testing.assert_array_equal(
        controller.decode(controller.encode(vectors)), vectors
    )


def test_moving_up_the_gradient_raises_the_predicted_score(trained_oracle):
    oracle = trained_oracle
    controller = oracle.controller
    latent = controller.encode(np.stack([oracle.vector(t) for t in oracle.results]))
    direction = controller.gradient(latent)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    moved = latent + 0.05 * direction
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    before, after = controller.predict(latent), controller.predict(moved)
    assert np.all(after > before)
    # The predictor ranks the results it was trained on.
    targets = quantile_ranks([oracle.fitness(t) for t in oracle.results])
    assert np.corrcoef(before, targets)[0, 1] > 0.9


def test_controller_predictions_are_recorded(trained_oracle):
    predictions = trained_oracle.predictions
    after_warm_up = trained_oracle.start_order[8:]
    trials = [t for t in predictions if t in trained_oracle.trials]
    assert trials and set(trials) <= set(after_warm_up)
    assert len(trials) >= len(after_warm_up) // 2
    assert all(-1.0 <= predictions[t] <= 2.0 for t in trials)
    assert trained_oracle.get_state()["predictions"] == predictions


def test_falls_back_to_mutating_a_top_architecture(tmp_path):
    """With steps too small to leave a seed, proposals are point mutations."""
    oracle = trained(tmp_path, n=20, num_seeds=3, step_size=1e-6, max_steps=1)
    enc = oracle.encoding
    for _ in range(5):
        seeds = [oracle.vector(t) for t in oracle.best(3)]
        values = oracle.propose("x")
        vector = enc.encode(values)
        assert min(np.count_nonzero(vector != s) for s in seeds) == 1
        assert oracle.is_new(values)


def test_default_num_initial_points():
    assert default_num_initial_points(100) == 20
    assert default_num_initial_points(10) == 5


def test_tiny_search_with_nas_tuner(tiny_images, tmp_path):
    """The controller trains and proposes across the tuner's clear_session."""
    space = kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:],
        num_classes=3,
        max_layers=2,
        widths=(4, 8),
        activations=("relu",),
        dropout_rates=(0.0,),
    )
    x, y = tiny_images
    oracle = DLSOracle(
        "val_accuracy",
        max_trials=3,
        seed=1,
        num_initial_points=1,
        retrain_every=1,
        train_steps=5,
    )
    tuner = kn.NASTuner(space, strategy=oracle, directory=tmp_path, seed=1, verbose=0)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=12)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 3
    assert oracle.controller_updates == 2  # Trained after trials 1 and 2.
    values = {
        tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()
    }
    assert len(values) == 3
    assert os.path.exists(oracle._controller_path(oracle.controller_version))

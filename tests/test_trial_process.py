"""Tests of `keras_nas.engine.trial_process`: one trial trained in a child process."""

import json
import os
import signal

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf
from keras_tuner.src.engine.hypermodel import DefaultHyperModel
from tensorflow.python.framework import ops as tf_ops

import keras_nas as kn
from keras_nas.training.checkpoint import restore_weights
from keras_nas.data import load_dataset
from keras_nas.training.failures import ArchitectureBuildError
from keras_nas.spaces import MLP
from keras_nas.engine.trial_process import TrialProcessError
from keras_nas.engine.trial_process import TrialProcessKilledError
from keras_nas.training.gradient_registry import release_custom_gradients
from keras_nas.engine.trial_process import fit_in_subprocess

OBJECTIVE = kt.Objective("val_accuracy", "max")
SEED = 7


class FailingSpace(kt.HyperModel):
    """Builds nothing: its `build` raises (module level, so it pickles)."""

    def build(self, hp):
        raise ValueError("no layer named 'conv9x9' in this space")


class CrashingSpace(MLP):
    """Builds a model, then fails in `fit` or dies by a signal."""

    def __init__(self, *args, crash="raise", **kwargs):
        super().__init__(*args, **kwargs)
        self.crash = crash

    def fit(self, hp, model, *args, **kwargs):
        if self.crash == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise KeyError("the data has no column 'label'")


def tiny_space(cls=MLP, **kwargs):
    return cls(
        (8, 8, 1),
        10,
        min_layers=1,
        max_layers=1,
        widths=(8,),
        activations=("relu",),
        dropout_rates=(0.0,),
        batch_norm=(False,),
        skip_connections=False,
        **kwargs,
    )


def hyperparameters(space):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    return hp


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", seed=0)
    return (
        data.x_train[:200],
        data.y_train[:200],
        (data.x_val[:100], data.y_val[:100]),
    )


def run(space, hp, digits, tmp_path, **kwargs):
    x, y, validation = digits
    return fit_in_subprocess(
        space,
        hp,
        (x, y),
        {
            "validation_data": validation,
            "epochs": 2,
            "batch_size": 32,
            "verbose": 0,
        },
        seed=SEED,
        objective=OBJECTIVE,
        checkpoint_path=str(tmp_path / "trial.weights.h5"),
        build_config_path=str(tmp_path / "build_config.json"),
        **kwargs,
    )


def test_child_training_matches_in_process_training(digits, tmp_path):
    space = tiny_space()
    hp = hyperparameters(space)
    epochs = []
    result = run(
        space,
        hp,
        digits,
        tmp_path,
        epoch_callback=lambda epoch, logs: (
            epochs.append((epoch, logs)) and False
        ),
    )

    x, y, validation = digits
    keras.utils.set_random_seed(SEED)
    keras.backend.clear_session(free_memory=False)
    model = space.build(hp)
    history = model.fit(
        x, y, validation_data=validation, epochs=2, batch_size=32, verbose=0
    )
    assert result.costs["params"] == model.count_params()
    assert sorted(result.history) == sorted(history.history)
    for name, values in history.history.items():
        np.testing.assert_allclose(result.history[name], values, atol=1e-4)
    assert [epoch for epoch, _ in epochs] == [0, 1]
    assert epochs[1][1]["val_accuracy"] == result.history["val_accuracy"][1]

    # The checkpoint holds the best epoch: reloaded, it scores as reported.
    metrics = result.metrics(OBJECTIVE)
    assert metrics["params"] == float(model.count_params())
    assert metrics["val_accuracy"] == max(result.history["val_accuracy"])
    assert result.best_value == metrics["val_accuracy"]
    fresh = restore_weights(space.build(hp), str(tmp_path / "trial.weights.h5"))
    accuracy = fresh.evaluate(*validation, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(metrics["val_accuracy"], abs=1e-6)
    with open(tmp_path / "build_config.json") as f:
        assert json.load(f) == model.get_build_config()


def test_build_error_is_raised_with_the_child_message(digits, tmp_path):
    with pytest.raises(ArchitectureBuildError) as info:
        run(FailingSpace(), kt.HyperParameters(), digits, tmp_path)
    message = str(info.value)
    assert message.startswith(
        "the architecture could not be built: ValueError: no layer named "
        "'conv9x9' in this space"
    )
    assert "Traceback in the trial's child process:" in message
    assert "in build" in message


def test_other_errors_carry_type_message_and_traceback(digits, tmp_path):
    space = tiny_space(CrashingSpace)
    with pytest.raises(TrialProcessError) as info:
        run(space, hyperparameters(space), digits, tmp_path)
    error = info.value
    assert error.type_name == "KeyError"
    assert "the data has no column 'label'" in str(error).splitlines()[0]
    assert "in fit" in error.child_traceback


def test_child_killed_by_a_signal_names_it(digits, tmp_path):
    space = tiny_space(CrashingSpace, crash="kill")
    with pytest.raises(TrialProcessKilledError, match="SIGKILL") as info:
        run(space, hyperparameters(space), digits, tmp_path)
    assert info.value.signal_number == signal.SIGKILL


@pytest.mark.parametrize("unpicklable", ["lambda_build", "dataset"])
def test_unpicklable_inputs_are_refused(digits, tmp_path, unpicklable):
    space = tiny_space()
    x, y, validation = digits
    hypermodel, fit_kwargs = space, {"validation_data": validation, "epochs": 1}
    if unpicklable == "lambda_build":
        hypermodel = DefaultHyperModel(lambda hp: space.build(hp))
        name = "hypermodel"
    else:
        fit_kwargs["validation_data"] = tf.data.Dataset.range(3)
        name = "fit_kwargs['validation_data']"
    with pytest.raises(
        ValueError, match="picklable spaces and NumPy data"
    ) as info:
        fit_in_subprocess(
            hypermodel,
            hyperparameters(space),
            (x, y),
            fit_kwargs,
            seed=SEED,
            objective=OBJECTIVE,
            checkpoint_path=str(tmp_path / "w.weights.h5"),
            build_config_path=str(tmp_path / "b.json"),
        )
    assert f"Received: {name}=" in str(info.value)


def test_release_custom_gradients_frees_the_train_step_registrations(digits):
    def custom_gradients():
        return {
            name
            for name in tf_ops.gradient_registry._registry
            if str(name).startswith("CustomGradient-")
        }

    space = tiny_space()
    x, y, _ = digits
    before = custom_gradients()
    with release_custom_gradients():
        model = space.build(hyperparameters(space))
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert custom_gradients() == before
    # The traced train step does not need them to train again.
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_nas_tuner_trains_trials_in_child_processes(tmp_path):
    data = kn.data.load_dataset("digits", seed=0)
    space = kn.spaces.MLP(data.input_shape, data.num_classes, max_layers=1,
                          widths=(8,), activations=("relu", "tanh"),
                          dropout_rates=(0.0,))
    tuner = kn.NASTuner(space, max_trials=2, directory=tmp_path, seed=0,
                        trial_process="subprocess", verbose=0)
    tuner.search(data.x_train[:200], data.y_train[:200],
                 validation_data=(data.x_val[:100], data.y_val[:100]),
                 epochs=1, batch_size=32)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"] * 2
    best = tuner.oracle.get_best_trials(1)[0]
    model = tuner.load_model(best)
    accuracy = model.evaluate(data.x_val[:100], data.y_val[:100], verbose=0,
                              return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(best.score, abs=1e-6)


def test_trial_process_is_validated(tmp_path):
    space = kn.spaces.MLP((4,), 2)
    with pytest.raises(ValueError, match="trial_process='thread'"):
        kn.NASTuner(space, trial_process="thread", directory=tmp_path)

"""NASTuner: search, metrics, leaderboard, export, resume, bad arguments."""

import json
import os

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

import keras_nas as kn
from keras_nas.training.failures import InfeasibleBudgetError
from keras_nas.objectives.costs import VIOLATION
from keras_nas.objectives.costs import is_infeasible


def tiny_mlp(tiny_images):
    return kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:],
        num_classes=3,
        max_layers=2,
        widths=(4, 8),
        activations=("relu",),
        dropout_rates=(0.0,),
    )


def search(tuner, tiny_images, epochs=1):
    x, y = tiny_images
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=12)


def test_search_records_params_and_ranks_trials(tiny_images, tmp_path, capsys):
    space = tiny_mlp(tiny_images)
    tuner = kn.NASTuner(
        space, max_trials=3, directory=tmp_path, project_name="p", seed=1
    )
    search(tuner, tiny_images)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"] * 3
    for trial in trials:
        hp = kt.HyperParameters()
        space.declare_hyperparameters(hp)
        hp.values = trial.hyperparameters.values
        expected = space.build(hp).count_params()
        assert trial.metrics.get_best_value("params") == expected
    scores = [a["score"] for a in tuner.get_best_architectures(3)]
    assert scores == sorted(scores, reverse=True)
    tuner.results_summary()
    out = capsys.readouterr().out
    assert "Trial 3/3" in out and "best" in out and "elapsed" in out
    assert "Leaderboard: val_accuracy (max), 3 completed, 0 failed" in out


def test_best_architecture_shows_only_active_decisions(tiny_images, tmp_path):
    tuner = kn.NASTuner(
        tiny_mlp(tiny_images), max_trials=4, directory=tmp_path, seed=3
    )
    search(tuner, tiny_images)
    for arch in tuner.get_best_architectures(4):
        depth = arch["decisions"]["num_layers"]
        layer_keys = {k for k in arch["decisions"] if k.startswith("units_")}
        assert layer_keys == {f"units_{i}" for i in range(depth)}


def test_best_model_reloads_with_its_trained_weights(tiny_images, tmp_path):
    tuner = kn.NASTuner(
        tiny_mlp(tiny_images), max_trials=2, directory=tmp_path, seed=2
    )
    search(tuner, tiny_images, epochs=2)
    model = tuner.get_best_models(1)[0]
    x, y = tiny_images
    accuracy = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    best = tuner.oracle.get_best_trials(1)[0]
    assert accuracy == pytest.approx(best.metrics.get_best_value("val_accuracy"))


def test_export_writes_model_and_test_figures(tiny_images, tmp_path):
    x, y = tiny_images
    space = kn.spaces.NB201Cell(input_shape=(8, 8, 1), num_classes=3, channels=2)
    tuner = kn.NASTuner(space, max_trials=1, directory=tmp_path, seed=1)
    search(tuner, tiny_images)
    path = tuner.export(tmp_path / "export", x_test=x[:6], y_test=y[:6])
    architecture = json.loads((path / "architecture.json").read_text())
    metrics = json.loads((path / "metrics.json").read_text())
    assert architecture["space"] == "nb201"
    assert space.from_arch_str(architecture["arch_str"]) == architecture["decisions"]
    assert architecture["space_config"]["channels"] == 2
    assert {"val_accuracy", "test_accuracy", "test_loss", "params"} <= set(metrics)
    loaded = tf.saved_model.load(str(path))
    model = tuner.get_best_models(1)[0]
    np.testing.assert_allclose(
        loaded.serve(x[:6]).numpy(), model(x[:6]).numpy(), atol=1e-5
    )


def test_accepts_any_keras_tuner_oracle_and_plain_build_function(
    tiny_images, tmp_path
):
    def build(hp):
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(inputs)
        if hp.Boolean("hidden"):
            with hp.conditional_scope("hidden", [True]):
                x = keras.layers.Dense(hp.Choice("units", [2, 4]))(x)
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    oracle = kt.oracles.RandomSearchOracle(
        objective="val_accuracy", max_trials=3, seed=1
    )
    tuner = kn.NASTuner(build, strategy=oracle, directory=tmp_path)
    search(tuner, tiny_images)
    assert len(tuner.oracle.trials) == 3
    assert all(t.metrics.exists("params") for t in tuner.oracle.trials.values())
    assert tuner.get_best_architectures(1)[0]["decisions"]


def test_resume_runs_only_the_remaining_trials(tiny_images, tmp_path):
    space = tiny_mlp(tiny_images)
    first = kn.NASTuner(space, max_trials=2, directory=tmp_path, seed=5)
    search(first, tiny_images)
    done = {t.trial_id: dict(t.hyperparameters.values) for t in first.oracle.trials.values()}
    resumed = kn.NASTuner(space, max_trials=3, directory=tmp_path, seed=5)
    search(resumed, tiny_images)
    trials = resumed.oracle.trials
    assert len(trials) == 3
    for trial_id, values in done.items():
        assert trials[trial_id].hyperparameters.values == values
        assert trials[trial_id].status == "COMPLETED"


def test_an_architecture_over_budget_is_infeasible_not_failed(
    tiny_images, tmp_path, capsys
):
    space = kn.spaces.MLP(
        input_shape=(8, 8, 1), num_classes=3, max_layers=1, widths=(64,)
    )
    tuner = kn.NASTuner(
        space, max_trials=2, directory=tmp_path, max_params=100,
        max_consecutive_failures=1, max_consecutive_infeasible=2,
    )
    with pytest.raises(InfeasibleBudgetError, match="max_params=100: the smallest params measured was"):
        search(tuner, tiny_images)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2  # Not stopped by max_consecutive_failures=1.
    for trial in trials:
        assert trial.status == "FAILED" and is_infeasible(trial)
        assert trial.message.startswith("infeasible: params ")
        params = trial.metrics.get_last_value("params")
        assert params > 100
        assert trial.metrics.get_last_value(VIOLATION) == pytest.approx(params / 100)
        assert not os.path.exists(tuner._get_checkpoint_fname(trial.trial_id))
    # Infeasible trials do not count towards max_trials: the total grows.
    assert "Trial 1/3 infeasible: params" in capsys.readouterr().out


def test_default_distribution_strategy_on_cpu():
    strategy = kn.engine.tuner.default_distribution_strategy()
    assert strategy.num_replicas_in_sync == 1


def test_explicit_distribution_strategy_is_used(tiny_images, tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    tuner = kn.NASTuner(
        tiny_mlp(tiny_images),
        max_trials=1,
        directory=tmp_path,
        distribution_strategy=strategy,
    )
    search(tuner, tiny_images)
    assert tuner.distribution_strategy is strategy
    assert tuner.oracle.trials["0"].status == "COMPLETED"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_trials": 0}, "max_trials"),
        ({"strategy": "nope"}, "strategy"),
        ({"max_params": -3}, "max_params"),
    ],
)
def test_bad_arguments_name_the_argument(tiny_images, tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        kn.NASTuner(tiny_mlp(tiny_images), directory=tmp_path, **kwargs)


def test_space_must_be_a_hypermodel_or_function(tmp_path):
    with pytest.raises(ValueError, match="`space`"):
        kn.NASTuner(42, directory=tmp_path)


def test_seed_zero_is_a_seed(tiny_images, tmp_path):
    proposals = []
    for project in ("a", "b"):
        tuner = kn.NASTuner(
            tiny_mlp(tiny_images), max_trials=1, directory=tmp_path,
            project_name=project, seed=0,
        )
        proposals.append(tuner.oracle.create_trial("tuner0").hyperparameters.values)
    assert tuner.oracle.seed == 0
    assert proposals[0] == proposals[1]


@pytest.mark.parametrize(
    "x_shape, labels, message",
    [
        ((36, 8, 8), None, r"`x`: samples of shape \(8, 8\) do not fit"),
        ((36, 4, 4, 1), None, r"input_shape \(8, 8, 1\)"),
        (None, 3, r"`y`: labels must be integers in \[0, 3\).*holds 3"),
        (None, -1, r"`y`.*holds -1"),
    ],
)
def test_search_rejects_data_that_does_not_fit_the_space(
    tiny_images, tmp_path, x_shape, labels, message
):
    x, y = tiny_images
    if x_shape is not None:
        x = np.zeros(x_shape, dtype="float32")
    if labels is not None:
        y = y.copy()
        y[5] = labels
    tuner = kn.NASTuner(tiny_mlp(tiny_images), max_trials=1,
                        directory=tmp_path, seed=0)
    with pytest.raises(ValueError, match=message):
        tuner.search(x, y, epochs=1)
    assert not tuner.oracle.trials


def test_search_checks_validation_data_too(tiny_images, tmp_path):
    x, y = tiny_images
    tuner = kn.NASTuner(tiny_mlp(tiny_images), max_trials=1,
                        directory=tmp_path, seed=0)
    with pytest.raises(ValueError, match=r"`validation_data\[1\]`"):
        tuner.search(x, y, validation_data=(x, y + 5), epochs=1)


def test_trials_leave_no_gradient_registrations_behind(tiny_images, tmp_path):
    from tensorflow.python.framework import ops as tf_ops

    def registered():
        return {name for name in tf_ops.gradient_registry._registry
                if str(name).startswith("CustomGradient-")}

    before = registered()
    tuner = kn.NASTuner(tiny_mlp(tiny_images), max_trials=3,
                        directory=tmp_path, seed=0, verbose=0)
    search(tuner, tiny_images)
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"] * 3
    assert registered() == before

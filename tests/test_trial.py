"""`keras_nas.training.trial.fit_trial`: one execution of a trial, in process."""

import json

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.training.checkpoint import restore_weights
from keras_nas.training.trial import fit_trial
from keras_nas.objectives.costs import VIOLATION
from keras_nas.objectives.costs import Constraints
from keras_nas.objectives.latency import LatencySettings
from keras_nas.spaces import MLP

OBJECTIVE = kt.Objective("val_accuracy", "max")


def _space():
    return MLP((4,), 2, min_layers=1, max_layers=1, widths=(4,),
               activations=("relu",), dropout_rates=(0.0,), batch_norm=(False,),
               skip_connections=False)


def _fit(space, tmp_path, **kwargs):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    result = fit_trial(
        space, hp, (x, y),
        {"validation_data": (x, y), "epochs": 3, "batch_size": 8, "verbose": 0},
        seed=3, objective=OBJECTIVE,
        checkpoint_path=str(tmp_path / "trial.weights.h5"),
        build_config_path=str(tmp_path / "build.json"), **kwargs,
    )
    return result, hp, (x, y)


def test_fit_trial_reports_epochs_and_keeps_the_best_one(tmp_path):
    space = _space()
    result, hp, (x, y) = _fit(space, tmp_path)
    assert len(result.history["val_accuracy"]) == 3
    assert result.best_value == max(result.history["val_accuracy"])
    assert result.checkpoint_written and not result.deadline_reached
    metrics = result.metrics(OBJECTIVE)
    assert metrics["val_accuracy"] == result.best_value
    model = space.build(hp)
    assert metrics["params"] == result.costs["params"] == model.count_params()
    # 4 inputs -> 4 relu units -> 2 softmax units: 4*4 + 4*2 multiply-adds.
    assert metrics["flops"] == 24
    assert metrics["model_bytes"] > 0 and metrics["train_seconds_per_epoch"] > 0
    assert "latency_ms" not in metrics  # Not asked for: missing, not zero.
    model = restore_weights(space.build(hp), str(tmp_path / "trial.weights.h5"))
    accuracy = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(result.best_value, abs=1e-6)
    with open(tmp_path / "build.json") as f:
        assert json.load(f) == model.get_build_config()


def test_an_earlier_execution_kept_unbeaten_keeps_its_checkpoint(tmp_path):
    result, _, _ = _fit(_space(), tmp_path, best_value=1.5)
    assert not result.checkpoint_written
    assert result.best_value == 1.5
    assert not (tmp_path / "trial.weights.h5").exists()


class _DictFit(kt.HyperModel):
    """A space whose `fit` returns one dict of final figures."""

    def build(self, hp):
        return _space().build(hp)

    def fit(self, hp, model, *args, **kwargs):
        model.fit(*args, **kwargs)
        return {"val_accuracy": 0.25, "note": "not a number"}


def test_a_fit_returning_a_dict_is_one_epoch(tmp_path):
    result, _, _ = _fit(_DictFit(), tmp_path)
    assert result.history == {"val_accuracy": [0.25]}
    assert result.metrics(OBJECTIVE)["val_accuracy"] == 0.25


def test_fit_trial_measures_latency_when_asked(tmp_path):
    result, _, _ = _fit(
        _space(), tmp_path, latency=LatencySettings(repeats=3, throughput_batch_size=8)
    )
    assert result.costs["latency_ms"] > 0 and result.costs["throughput"] > 0


def test_an_architecture_over_budget_is_measured_and_not_trained(tmp_path):
    result, _, _ = _fit(_space(), tmp_path, constraints=Constraints(max_params=10))
    params = result.costs["params"]
    assert result.violation == (params / 10, "max_params", params, 10)
    assert result.history == {} and not result.checkpoint_written
    assert not (tmp_path / "trial.weights.h5").exists()
    assert result.metrics(OBJECTIVE) == {**result.costs, VIOLATION: params / 10}

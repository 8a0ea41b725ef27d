"""Failing trials are recorded with their reason; the search goes on."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

import keras_nas as kn
from keras_nas.training.failures import TooManyFailuresError
from keras_nas.training.failures import failure_reason


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return x, y


def _build(failing):
    """A plain `build(hp)` whose `mode` choice decides how it fails."""

    def build(hp):
        mode = hp.Choice("mode", ["ok", "ok2", "ok3"] + failing)
        if mode == "unbuildable":
            keras.layers.Dense(-3)
        if mode == "oom":
            raise tf.errors.ResourceExhaustedError(
                None, None, "OOM when allocating tensor with shape[1000000]"
            )
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(4, activation="relu")(inputs)
        outputs = keras.layers.Dense(2, activation="softmax")(hidden)
        model = keras.Model(inputs, outputs)
        learning_rate = 1e30 if mode == "nan" else 1e-2
        model.compile(
            keras.optimizers.SGD(learning_rate),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    return build


def _search(tuner, epochs=2):
    x, y = _data()
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=8)


@pytest.mark.parametrize(
    "mode, reason",
    [
        ("unbuildable", "the architecture could not be built: ValueError"),
        ("nan", "the loss became nan at epoch 1"),
        ("oom", "out of memory: OOM when allocating tensor"),
    ],
)
def test_failed_trial_is_recorded_with_its_reason_and_search_goes_on(
    mode, reason, tmp_path, capsys
):
    tuner = kn.NASTuner(
        _build([mode]), strategy="grid", max_trials=4, directory=tmp_path, seed=0
    )
    _search(tuner)
    trials = {t.hyperparameters.values["mode"]: t for t in tuner.oracle.trials.values()}
    assert set(trials) == {"ok", "ok2", "ok3", mode}
    assert trials[mode].status == "FAILED"
    assert trials[mode].message.splitlines()[0].startswith(reason)
    assert "Traceback" in trials[mode].message
    assert [trials[m].status for m in ("ok", "ok2", "ok3")] == ["COMPLETED"] * 3
    out = capsys.readouterr()
    assert f"FAILED ({reason}" in out.out
    assert "Traceback" not in out.out + out.err
    reloaded = kt.engine.trial.Trial.load(
        str(tmp_path / "untitled_project" / f"trial_{trials[mode].trial_id}" / "trial.json")
    )
    assert reloaded.status == "FAILED"


def test_consecutive_failures_end_the_search_with_a_clear_message(tmp_path):
    calls = []

    def build(hp):
        # KerasTuner builds once to discover the space; every trial fails.
        width = hp.Int("width", 1, 50)
        calls.append(width)
        if len(calls) > 1:
            raise ValueError("this space builds nothing")
        return _build([])(hp)

    tuner = kn.NASTuner(
        build, max_trials=20, max_consecutive_failures=3,
        directory=tmp_path, seed=0,
    )
    with pytest.raises(TooManyFailuresError, match=(
        r"stopped after 3 consecutive failed trials "
        r"\(max_consecutive_failures=3\); the last failed with: the "
        r"architecture could not be built: ValueError: this space builds nothing"
    )):
        _search(tuner)
    statuses = [t.status for t in tuner.oracle.trials.values()]
    assert statuses == ["FAILED"] * 3
    # Every failure was saved before the search stopped.
    resumed = kn.NASTuner(build, max_trials=20, directory=tmp_path, seed=0)
    assert sorted(resumed.oracle.end_order) == ["00", "01", "02"]


def test_failures_between_successes_do_not_reach_the_limit(tmp_path):
    tuner = kn.NASTuner(
        _build(["unbuildable", "nan"]), strategy="grid", max_trials=5,
        max_consecutive_failures=3, directory=tmp_path, seed=0,
    )
    _search(tuner, epochs=1)
    statuses = sorted(t.status for t in tuner.oracle.trials.values())
    assert statuses == ["COMPLETED"] * 3 + ["FAILED"] * 2


def test_failure_reason_is_one_line():
    error = RuntimeError("first\nsecond")
    assert failure_reason(error) == "RuntimeError: first"
    assert failure_reason(MemoryError()) == "out of memory: MemoryError"


def test_max_consecutive_failures_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="max_consecutive_failures=0"):
        kn.NASTuner(_build([]), max_consecutive_failures=0, directory=tmp_path)

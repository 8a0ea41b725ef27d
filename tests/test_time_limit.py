"""Time budgets: durations, a search stopped at its limit, resumed after."""

import time

import keras
import numpy as np
import pytest

import keras_nas as kn
from keras_nas.formatting import format_duration
from keras_nas.training.time_limit import parse_duration


@pytest.mark.parametrize(
    "value, seconds",
    [(90, 90.0), (2.5, 2.5), ("45", 45.0), ("90s", 90.0), ("10m", 600.0),
     ("1h30m", 5400.0), ("1.5h", 5400.0), ("2d", 172800.0), (" 1M ", 60.0)],
)
def test_parse_duration(value, seconds):
    assert parse_duration("time_limit", value) == seconds


@pytest.mark.parametrize("value", [0, -5, "", "10x", "m", "5 minutes", True,
                                   None, float("inf"), "10m-3s"])
def test_parse_duration_rejects_bad_values(value):
    with pytest.raises(ValueError, match=r"`time_limit`.*time_limit="):
        parse_duration("time_limit", value)


def _space():
    return kn.spaces.MLP(
        input_shape=(16,), num_classes=2, max_layers=2, widths=(8, 16),
        activations=("relu",), dropout_rates=(0.0,),
    )


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 16)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return x, y


class SlowBatches(keras.callbacks.Callback):
    """Makes every batch take at least `seconds`."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def test_search_stops_at_its_time_limit_keeps_trials_and_resumes(tmp_path, capsys):
    x, y = _data()
    fit = dict(validation_data=(x[:200], y[:200]), batch_size=32)
    first = kn.NASTuner(_space(), max_trials=1, directory=tmp_path,
                        project_name="p", seed=0)
    start = time.monotonic()
    first.search(x, y, epochs=2, **fit)
    trial_seconds = time.monotonic() - start

    # Resumed with a limit, the next trial is slowed down (125 batches of at
    # least 0.2 s): the limit falls inside it.
    limit = max(3.0, trial_seconds)
    tuner = kn.NASTuner(_space(), max_trials=50, directory=tmp_path,
                        project_name="p", seed=0, time_limit=limit)
    start = time.monotonic()
    tuner.search(x, y, epochs=2, callbacks=[SlowBatches(0.2)], **fit)
    elapsed = time.monotonic() - start
    assert tuner.stopped_by_time_limit
    # Stopped after the batch in progress, not at the end of the trial.
    assert elapsed < limit + 0.5 * trial_seconds + 1.0
    statuses = [t.status for t in tuner.oracle.trials.values()]
    assert statuses == ["COMPLETED", "RUNNING"]
    # The limit as the search prints it (10 s or more on a loaded machine).
    assert f"Time limit of {format_duration(limit)} reached" in capsys.readouterr().out
    first_id, interrupted_id = tuner.oracle.trials
    assert tuner.get_best_architectures(1)[0]["trial_id"] == first_id
    assert (tuner.export(tmp_path / "export") / "saved_model.pb").exists()

    # Resumed without a limit: the interrupted trial runs again, the finished
    # one is kept, and the budget is the total.
    resumed = kn.NASTuner(_space(), max_trials=3, directory=tmp_path,
                          project_name="p", seed=0)
    resumed.search(x[:400], y[:400], epochs=1, **fit)
    trials = resumed.oracle.trials
    assert [t.status for t in trials.values()] == ["COMPLETED"] * 3
    assert trials[first_id].score == first.oracle.trials[first_id].score
    assert trials[interrupted_id].hyperparameters.values == (
        tuner.oracle.trials[interrupted_id].hyperparameters.values
    )


def test_time_limit_is_validated(tmp_path):
    with pytest.raises(ValueError, match="time_limit='soon'"):
        kn.NASTuner(_space(), time_limit="soon", directory=tmp_path)

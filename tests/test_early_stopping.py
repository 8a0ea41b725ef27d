"""Early stopping: the schedulers, and with NASTuner on every strategy."""

import json
import os
import signal
import subprocess
import sys
import time

import keras_tuner as kt
import pytest
from cli_helpers import completed_trials

import keras_nas as kn
from keras_nas.oracles.early_stopping import ASHA
from keras_nas.oracles.early_stopping import EARLIER_EPOCHS
from keras_nas.oracles.early_stopping import EarlyStopping
from keras_nas.oracles.early_stopping import Hyperband
from keras_nas.oracles.early_stopping import Median
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.oracles.early_stopping import asha_rungs
from keras_nas.oracles.early_stopping import epochs_trained
from keras_nas.oracles.early_stopping import get_early_stopping


def test_asha_rungs_are_min_epochs_times_powers_of_eta():
    assert asha_rungs(1, 3, 20) == [1, 3, 9]
    assert asha_rungs(2, 2, 16) == [2, 4, 8]
    assert asha_rungs(5, 3, 5) == []


def test_asha_keeps_the_top_third_at_a_rung_without_waiting():
    asha = ASHA(max_epochs=9, eta=3)
    assert asha.report("0", 1, 0.5) is False  # Alone at the rung: goes on.
    assert asha.report("1", 1, 0.9) is False
    assert asha.report("2", 1, 0.1) is True   # Below the top third.
    assert asha.report("1", 2, 0.0) is False  # Not a rung.
    assert asha.report("3", 1, 0.95) is False


def test_asha_state_round_trips():
    asha = ASHA(max_epochs=9, eta=3)
    asha.report("0", 1, 0.5)
    asha.report("0", 3, 0.7)
    again = ASHA(max_epochs=9, eta=3)
    again.set_state(json.loads(json.dumps(asha.get_state())))
    assert again.report("1", 3, 0.1) is True
    assert again.recorded == {**asha.recorded, 3: {"0": 0.7, "1": 0.1}}


def test_asha_promotes_a_stopped_trial_that_later_ones_fell_below():
    asha = ASHA(max_epochs=9, eta=3)
    asha.report("0", 1, 0.9)
    assert asha.report("1", 1, 0.5) is True   # Below 0.9's top third.
    assert asha.promotable("1", 1) is False
    for trial in ("2", "3", "4"):
        asha.report(trial, 1, 0.1)
    assert asha.promotable("1", 1) is True    # Now second of five.
    assert asha.promotable("2", 1) is False
    asha.promote("1", 1)
    assert asha.report("1", 1, 0.0) is False  # Not judged again...
    assert asha.recorded[1]["1"] == 0.5       # ...nor recorded.
    asha.report("0", 3, 0.9)
    assert asha.report("1", 3, 0.2) is True   # Judged above its old rung.
    again = ASHA(max_epochs=9, eta=3)
    again.set_state(json.loads(json.dumps(asha.get_state())))
    assert again.promoted == {"1": 1} and again.recorded == asha.recorded


def test_median_promotes_a_stopped_trial_once_the_median_fell():
    median = Median(max_epochs=5, min_epochs=1, min_trials=2)
    median.report("0", 1, 0.8)
    median.report("1", 1, 0.6)
    assert median.report("2", 1, 0.5) is True
    median.report("3", 1, 0.1)
    median.report("4", 1, 0.1)
    assert median.promotable("2", 1) is True  # The others' median is 0.35.


class _StopsTrialOneOnce(EarlyStopping):
    """Stops trial 1 after its first epoch; promotes whatever it stopped."""

    name = "stops-trial-one"

    def judge(self, trial_id, epoch, value):
        return trial_id == "1" and epoch == 1

    def promotable(self, trial_id, epoch):
        return True

    def get_records(self):
        return {}

    def set_records(self, records):
        pass


def test_a_promoted_trial_trains_again_to_the_full_epochs(tiny_images, tmp_path, capsys):
    tuner = kn.NASTuner(tiny_space(tiny_images), max_trials=3, directory=tmp_path,
                        seed=0, early_stopping=_StopsTrialOneOnce(max_epochs=3))
    search(tuner, tiny_images, epochs=3)
    out = capsys.readouterr().out
    assert "Trial 2, stopped after epoch 1, ranks in the top of its rung now" in out
    assert "Epochs trained: 10 of 3 trials x 3 epochs = 9 (111%)" in out
    promoted = tuner.oracle.trials["1"]
    assert promoted.status == "COMPLETED"
    assert not promoted.metrics.exists(STOPPED_EARLY)
    assert promoted.metrics.get_last_value(EARLIER_EPOCHS) == 1
    curve = promoted.metrics.get_history("val_accuracy")
    assert [o.step for o in curve] == [0, 1, 2]
    assert promoted.score == max(o.mean() for o in curve)
    assert tuner.oracle.next_promotion() is None
    model = tuner.load_model(promoted)  # Its checkpoint is the new run's.
    accuracy = model.evaluate(*tiny_images, verbose=0, return_dict=True)
    assert accuracy["accuracy"] == pytest.approx(promoted.score, abs=1e-6)


def test_hyperband_deals_trials_to_brackets_with_later_first_rungs():
    band = Hyperband(max_epochs=9, eta=3)
    assert [b.rungs for b in band.brackets] == [[1, 3], [3], []]
    assert [band.bracket_of(str(t)) for t in range(4)] == [0, 1, 2, 0]
    band.report("2", 1, 0.9)
    assert band.report("2", 3, -1.0) is False  # Bracket 2 never stops.


def test_median_stops_below_the_median_of_earlier_trials():
    median = Median(max_epochs=5, min_epochs=2, min_trials=2)
    for trial, value in (("0", 0.5), ("1", 0.7)):
        for epoch in (1, 2):
            assert median.report(trial, epoch, value) is False
    assert median.report("2", 1, 0.1) is False  # Before min_epochs.
    assert median.report("2", 2, 0.2) is True   # 0.2 < median(0.5, 0.7).
    assert median.report("3", 2, 0.9) is False


@pytest.mark.parametrize("kwargs, name", [
    ({"name": "fast"}, "early_stopping"), ({"name": "asha", "eta": 1}, "eta"),
    ({"name": "asha", "min_epochs": 0}, "min_epochs"),
])
def test_bad_options_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        get_early_stopping(**kwargs, max_epochs=10)


def tiny_space(tiny_images):
    return kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:], num_classes=3, max_layers=2,
        widths=(2, 4, 8, 16), activations=("relu", "tanh"), dropout_rates=(0.0,),
    )


def search(tuner, tiny_images, epochs):
    x, y = tiny_images
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=12)


def test_every_epoch_reaches_the_oracle_as_a_learning_curve(tiny_images, tmp_path):
    tuner = kn.NASTuner(tiny_space(tiny_images), max_trials=2, directory=tmp_path,
                        seed=0, verbose=0)
    search(tuner, tiny_images, epochs=3)
    for trial in tuner.oracle.trials.values():
        curve = trial.metrics.get_history("val_accuracy")
        assert [o.step for o in curve] == [0, 1, 2]
        assert trial.score == max(o.mean() for o in curve)


# Random search (the default) meets ASHA in the tests of rung records and
# promotions below.
@pytest.mark.parametrize("strategy", ["evolution", "bayesian"])
def test_asha_stops_trials_and_exports_a_fully_trained_one(
    strategy, tiny_images, tmp_path, capsys
):
    tuner = kn.NASTuner(
        tiny_space(tiny_images), strategy=strategy, max_trials=8,
        directory=tmp_path / "runs", seed=1, early_stopping="asha",
    )
    search(tuner, tiny_images, epochs=9)
    trials = list(tuner.oracle.trials.values())
    stopped = [t for t in trials if t.metrics.exists(STOPPED_EARLY)]
    assert stopped and all(t.status == "COMPLETED" for t in trials)
    for trial in stopped:
        at = trial.metrics.get_last_value(STOPPED_EARLY)
        assert at in (1, 3) and len(trial.metrics.get_history("loss")) == at
    epochs = sum(map(epochs_trained, trials))
    assert epochs < 8 * 9
    assert tuner.oracle.next_promotion() is None  # None pending at the end.
    assert f"Epochs trained: {epochs} of 8 trials x 9 epochs = 72" in capsys.readouterr().out
    path = tuner.export(tmp_path / "export")
    chosen = json.loads((path / "architecture.json").read_text())["trial_id"]
    assert not tuner.oracle.trials[chosen].metrics.exists(STOPPED_EARLY)
    tuner.results_summary(num_trials=8)
    board = capsys.readouterr().out.splitlines()
    assert board[1].split()[:4] == ["rank", "trial", "val_accuracy", "epochs"]
    shown = {line.split()[1]: line.split()[3] for line in board[2:2 + len(trials)]}
    for trial in trials:
        mark = "*" if trial.metrics.exists(STOPPED_EARLY) else ""
        assert shown[trial.trial_id] == f"{len(trial.metrics.get_history('loss'))}{mark}"
    assert board[-1].startswith("* stopped early")


def test_rung_records_survive_a_reload(tiny_images, tmp_path):
    space = tiny_space(tiny_images)
    first = kn.NASTuner(space, max_trials=3, directory=tmp_path, project_name="p",
                        seed=2, early_stopping="asha", verbose=0)
    search(first, tiny_images, epochs=3)
    recorded = first.oracle.early_stopping.get_state()["records"]
    again = kn.NASTuner(space, max_trials=5, directory=tmp_path, project_name="p",
                        seed=2, early_stopping="asha", verbose=0)
    search(again, tiny_images, epochs=3)
    state = again.oracle.early_stopping.get_state()["records"]
    for rung, values in recorded.items():
        assert values.items() <= state[rung].items()
    assert len(state["1"]) == 5


def test_early_stopping_needs_a_keras_nas_strategy(tiny_images, tmp_path):
    oracle = kt.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1)
    with pytest.raises(ValueError, match="early_stopping"):
        kn.NASTuner(tiny_space(tiny_images), strategy=oracle, directory=tmp_path,
                    early_stopping="asha")


def test_an_asha_search_killed_in_the_middle_resumes_to_its_budget(
    tmp_path, npz_dataset
):
    max_trials, run_dir = 6, str(tmp_path / "runs" / "toy")
    command = [
        sys.executable, "-m", "keras_nas_cli.main", "run", "--dataset", npz_dataset,
        "--space", "mlp", "--strategy", "evolution", "--max-trials", str(max_trials),
        "--epochs", "9", "--early-stopping", "asha", "--directory",
        str(tmp_path / "runs"), "--name", "toy", "--export-dir", str(tmp_path / "m"),
        "--no-final-fit", "--ensemble", "1",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(completed_trials(run_dir)) < 2:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = completed_trials(run_dir)
    final = subprocess.run(command + ["--resume"], env=env, text=True,
                           capture_output=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    after = completed_trials(run_dir)
    assert len(after) == max_trials
    for trial_id, trial in before.items():
        if EARLIER_EPOCHS in after[trial_id]["metrics"]["metrics"]:  # Promoted.
            assert after[trial_id]["hyperparameters"] == trial["hyperparameters"]
        else:
            assert after[trial_id] == trial  # Kept, not run again.
    architectures = [json.dumps(t["hyperparameters"]["values"], sort_keys=True)
                     for t in after.values()]
    assert len(set(architectures)) == max_trials
    with open(os.path.join(run_dir, "oracle.json")) as f:
        rung = json.load(f)["early_stopping"]["state"]["records"]["1"]
    assert set(after) <= set(rung)  # Every trial was judged at epoch 1.

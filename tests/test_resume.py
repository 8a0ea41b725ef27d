"""Resume after a crash: no finished trial lost or run again."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_helpers import completed_trials

import keras_nas as kn
from keras_nas.oracles import NASOracle


class Crash(BaseException):
    """Stands for the process dying between two writes."""


def _space():
    return kn.spaces.MLP(
        input_shape=(6,), num_classes=2, max_layers=2, widths=(4, 8),
        activations=("relu", "tanh"), dropout_rates=(0.0,),
    )


def _search(tuner, npz, epochs=1):
    data = np.load(npz)
    x, y = data["x"], data["y"]
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=16)


def _tuner(tmp_path, max_trials=4, **kwargs):
    return kn.NASTuner(_space(), strategy="evolution", max_trials=max_trials,
                       directory=tmp_path, project_name="p", seed=0, verbose=0,
                       **kwargs)


def _crash_on_save(monkeypatch, when):
    """Makes `NASOracle.save` raise `Crash` when `when(oracle)` holds."""
    original = NASOracle.save

    def save(oracle):
        if when(oracle):
            raise Crash()
        original(oracle)

    monkeypatch.setattr(NASOracle, "save", save)


def test_trial_ended_in_its_file_only_is_not_run_again(tmp_path, npz_dataset, monkeypatch):
    # The crash falls after trial 2's file says COMPLETED, before oracle.json.
    _crash_on_save(monkeypatch, lambda o: len(o.end_order) == 2)
    with pytest.raises(Crash):
        _search(_tuner(tmp_path), npz_dataset)
    monkeypatch.undo()
    on_disk = json.loads((tmp_path / "p" / "oracle.json").read_text())
    assert len(on_disk["end_order"]) == 1 and on_disk["ongoing_trials"]
    second = next(iter(on_disk["ongoing_trials"].values()))
    trial_file = tmp_path / "p" / f"trial_{second}" / "trial.json"
    saved = json.loads(trial_file.read_text())
    assert saved["status"] == "COMPLETED"

    resumed = _tuner(tmp_path)
    _search(resumed, npz_dataset)
    trials = resumed.oracle.trials
    assert [t.status for t in trials.values()] == ["COMPLETED"] * 4
    assert trials[second].score == saved["score"]
    assert json.loads(trial_file.read_text())["metrics"] == saved["metrics"]
    assert sorted(resumed.oracle.end_order) == sorted(trials)


def test_the_curve_of_a_trial_ended_in_its_file_only_reaches_the_rungs(
    tmp_path, npz_dataset, monkeypatch
):
    # As above, with ASHA: the rung values of trial 2 were in memory only.
    _crash_on_save(monkeypatch, lambda o: len(o.end_order) == 2)
    with pytest.raises(Crash):
        _search(_tuner(tmp_path, early_stopping="asha"), npz_dataset, epochs=3)
    monkeypatch.undo()
    on_disk = json.loads((tmp_path / "p" / "oracle.json").read_text())
    second = next(iter(on_disk["ongoing_trials"].values()))
    assert second not in on_disk["early_stopping"]["state"]["records"]["1"]
    saved = json.loads(
        (tmp_path / "p" / f"trial_{second}" / "trial.json").read_text()
    )
    first_epoch = saved["metrics"]["metrics"]["val_accuracy"]["observations"][0]

    resumed = _tuner(tmp_path, early_stopping="asha")
    _search(resumed, npz_dataset, epochs=3)
    records = resumed.oracle.early_stopping.get_state()["records"]
    assert set(records["1"]) == set(resumed.oracle.trials)
    assert records["1"][second] == first_epoch["value"][0]


def test_trial_ended_but_listed_as_running_is_not_run_again(
    tmp_path, npz_dataset, monkeypatch
):
    # KerasTuner's end_trial writes oracle.json before it drops the trial
    # from the ongoing ones; the crash falls before the tuner's next write.
    original = kn.NASTuner.save

    def save(tuner):
        if len(tuner.oracle.end_order) == 2:
            raise Crash()
        original(tuner)

    monkeypatch.setattr(kn.NASTuner, "save", save)
    with pytest.raises(Crash):
        _search(_tuner(tmp_path), npz_dataset)
    monkeypatch.undo()
    on_disk = json.loads((tmp_path / "p" / "oracle.json").read_text())
    second = on_disk["end_order"][-1]
    assert len(on_disk["end_order"]) == 2
    assert list(on_disk["ongoing_trials"].values()) == [second]
    trial_file = tmp_path / "p" / f"trial_{second}" / "trial.json"
    saved = json.loads(trial_file.read_text())

    resumed = _tuner(tmp_path)
    _search(resumed, npz_dataset)
    trials = resumed.oracle.trials
    assert [t.status for t in trials.values()] == ["COMPLETED"] * 4
    assert json.loads(trial_file.read_text())["metrics"] == saved["metrics"]
    assert resumed.oracle.end_order.count(second) == 1


def test_trial_created_in_its_file_only_is_run(tmp_path, npz_dataset, monkeypatch):
    # The crash falls after trial 3's file was written, before oracle.json.
    _crash_on_save(monkeypatch, lambda o: len(o.start_order) == 3)
    with pytest.raises(Crash):
        _search(_tuner(tmp_path), npz_dataset)
    monkeypatch.undo()
    on_disk = json.loads((tmp_path / "p" / "oracle.json").read_text())
    assert len(on_disk["start_order"]) == 2
    assert len(glob.glob(str(tmp_path / "p" / "trial_*" / "trial.json"))) == 3

    resumed = _tuner(tmp_path)
    _search(resumed, npz_dataset)
    trials = resumed.oracle.trials
    assert [t.status for t in trials.values()] == ["COMPLETED"] * 4
    values = [json.dumps(t.hyperparameters.values, sort_keys=True)
              for t in trials.values()]
    assert len(set(values)) == 4


def test_search_killed_with_sigkill_resumes_to_the_full_budget(tmp_path, npz_dataset):
    max_trials = 8
    run_dir = str(tmp_path / "runs" / "toy")
    command = [
        sys.executable, "-m", "keras_nas_cli.main", "run", "--dataset", npz_dataset,
        "--space", "mlp", "--strategy", "dls", "--max-trials", str(max_trials),
        "--epochs", "1", "--directory", str(tmp_path / "runs"), "--name", "toy",
        "--export-dir", str(tmp_path / "models"), "--no-final-fit", "--ensemble", "1",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}

    def start(*extra):
        return subprocess.Popen(command + list(extra), env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def kill_when(process, condition, limit=240):
        deadline = time.monotonic() + limit
        while not condition():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the search did not progress"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        return completed_trials(run_dir)

    # Killed as soon as the third trial has finished, then again in the
    # middle of the resumed run, a moment after the fifth one.
    before = kill_when(start(), lambda: len(completed_trials(run_dir)) >= 3)
    assert 3 <= len(before) < max_trials
    middle = kill_when(start("--resume"), lambda: len(completed_trials(run_dir)) >= 5)
    assert 5 <= len(middle) < max_trials
    for trial_id, trial in before.items():
        assert middle[trial_id] == trial  # kept, not run again

    final = subprocess.run(command + ["--resume"], env=env, text=True,
                           capture_output=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"resuming after {len(middle)} finished trials" in final.stdout
    after = completed_trials(run_dir)
    assert len(after) == max_trials
    for trial_id, trial in middle.items():
        assert after[trial_id] == trial
    ran_again = [line for line in final.stdout.splitlines()
                 if line.startswith("Trial ")]
    assert len(ran_again) == max_trials - len(middle)
    values = {json.dumps(t["hyperparameters"]["values"], sort_keys=True)
              for t in after.values()}
    assert len(values) == max_trials
    # The controller's weights were saved beside the oracle and reloaded.
    assert glob.glob(os.path.join(run_dir, "dls_controller_*.npz"))
    # Temporary files of writes the kills interrupted are gone.
    assert not glob.glob(os.path.join(run_dir, "**", "*.tmp-*"), recursive=True)
    assert (tmp_path / "models" / "toy" / "saved_model.pb").exists()

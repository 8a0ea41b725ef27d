"""Writes that cannot corrupt: a full disk ends a command with one line,
leaves no temporary file, and `--resume` completes the search."""

import errno
import glob
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cli_helpers import completed_trials
from cli_helpers import invoke
from cli_helpers import run_args

from keras_nas.write_errors import WriteError
from keras_nas import compat
from keras_nas import files
from keras_nas.engine import trial_process
from keras_nas.training.checkpoint import CorruptCheckpointError
from keras_nas.training.checkpoint import restore_weights
from keras_nas.runs.export import load_keras_model
from keras_nas.oracles import RandomSearchOracle
from keras_nas.runs.run_directory import RunDirectory

needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="names synced files via /proc"
)


def _fill_disk_at(monkeypatch, name, count=1):
    """Makes the `count`-th sync of a file called `name...` fail: disk full.

    Every durable write syncs its temporary file before renaming it, so
    this stands for a disk that fills while that file is written.
    """
    real_fsync = os.fsync
    seen = []

    def fsync(descriptor):
        target = os.path.basename(os.readlink(f"/proc/self/fd/{descriptor}"))
        if target.startswith(name + files.TEMPORARY_MARK):
            seen.append(target)
            if len(seen) == count:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)


def _temporaries(folder):
    return glob.glob(os.path.join(folder, "**", "*.tmp*"), recursive=True) + glob.glob(
        os.path.join(folder, "**", ".*.tmp*"), recursive=True
    )


@needs_proc
def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "oracle.json"
    files.write_json_atomically(path, {"trials": 1})
    _fill_disk_at(monkeypatch, "oracle.json")
    with pytest.raises(WriteError) as caught:
        files.write_json_atomically(path, {"trials": 2})
    assert caught.value.errno == errno.ENOSPC and caught.value.path == str(path)
    assert str(caught.value) == (
        f"cannot write {path}: No space left on device; free space there."
    )
    assert json.loads(path.read_text()) == {"trials": 1}
    assert os.listdir(tmp_path) == ["oracle.json"]


@needs_proc
@pytest.mark.parametrize("name, count", [
    ("checkpoint.weights.h5", 2),  # in the second trial's training
    ("oracle.json", 4),  # as the first trial ends
])
def test_full_disk_ends_run_with_one_line_and_resume_completes(
    tmp_path, npz_dataset, monkeypatch, name, count
):
    run_dir = str(tmp_path / "runs" / "toy")
    args = run_args(tmp_path, npz_dataset, "--max-trials", 2,
                    "--no-final-fit", "--ensemble", 1)
    _fill_disk_at(monkeypatch, name, count)
    result = invoke(*args)
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot write {run_dir}"), result.output
    assert last.endswith(
        f"{name}: No space left on device; free space there and pass "
        "--resume to continue."
    )
    assert "Traceback" not in result.output
    assert _temporaries(str(tmp_path)) == []

    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert sorted(completed_trials(run_dir)) == ["0", "1"]
    run = RunDirectory(run_dir)
    assert all(run.load_model(trial).built for trial in run.trials)
    assert _temporaries(str(tmp_path)) == []


def test_checkpoint_missing_or_corrupt_is_named(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "checkpoint.weights.h5"
    with pytest.raises(CorruptCheckpointError, match="is missing") as caught:
        restore_weights(model, path)
    assert caught.value.missing and caught.value.path == str(path)
    path.write_bytes(b"not hdf5")
    with pytest.raises(CorruptCheckpointError, match="is corrupt") as caught:
        restore_weights(model, path)
    assert not caught.value.missing and str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_checkpoint_written_in_memory_loads_back(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    path = tmp_path / "checkpoint.weights.h5"
    files.save_weights_atomically(model, path)
    copy = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    copy.compile(optimizer="adam", loss="mse")
    restore_weights(copy, path)
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path) == ["checkpoint.weights.h5"]


def test_truncated_keras_file_is_named_corrupt(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    with open(tmp_path / "model.keras", "r+b") as f:
        f.truncate(300)
    with pytest.raises(files.CorruptFileError, match="is corrupt") as caught:
        load_keras_model(tmp_path)
    assert caught.value.path == str(tmp_path / "model.keras")


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_ended_processes_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    for name in (f"oracle.json.tmp-{dead}", f"oracle.json.tmp-{alive}",
                 f".best.tmp-{dead}-x1y2", f".best.tmp-{alive}-a1b2",
                 f".best.tmp-{dead}-x1y2.old", f".other.tmp-{dead}-z9",
                 "notes.txt"):
        (tmp_path / name).mkdir() if name.startswith(".") else (tmp_path / name).touch()
    removed = files.remove_stale_temporaries(tmp_path, prefix=".best.tmp-")
    assert sorted(os.path.basename(p) for p in removed) == [
        f".best.tmp-{dead}-x1y2", f".best.tmp-{dead}-x1y2.old"
    ]
    files.save_folder_atomically(
        tmp_path / "best", lambda folder: open(os.path.join(folder, "a"), "w").close()
    )
    assert sorted(os.listdir(tmp_path)) == sorted([
        f"oracle.json.tmp-{dead}", f"oracle.json.tmp-{alive}",
        f".best.tmp-{alive}-a1b2", f".other.tmp-{dead}-z9", "notes.txt", "best",
    ])
    files.remove_stale_temporaries(tmp_path)
    assert f"oracle.json.tmp-{dead}" not in os.listdir(tmp_path)
    assert f"oracle.json.tmp-{alive}" in os.listdir(tmp_path)


def test_oracle_reload_names_a_corrupt_trial_file(tmp_path):
    def oracle():
        made = RandomSearchOracle(objective="val_accuracy", max_trials=2, seed=1)
        compat.set_project_dir(made, str(tmp_path), "p")
        return made

    oracle().save()
    trial_dir = tmp_path / "p" / "trial_0"
    trial_dir.mkdir()
    (trial_dir / "trial.json").write_text('{"trial_id": "0", "hyperpa')
    with pytest.raises(files.CorruptFileError) as caught:
        oracle().reload()
    assert caught.value.path == str(trial_dir / "trial.json")
    assert "Unterminated string" in str(caught.value)

    (trial_dir / "trial.json").unlink()
    stale = trial_dir / f"checkpoint.weights.h5.tmp-{_dead_pid()}"
    stale.touch()
    oracle().reload()
    assert not stale.exists()


def test_write_error_crosses_from_a_trial_process():
    try:
        raise WriteError("runs/x/checkpoint.weights.h5", errno.ENOSPC)
    except WriteError as error:
        info = trial_process._describe_error(error)
    rebuilt = trial_process._rebuild_error(info)
    assert isinstance(rebuilt, WriteError)
    assert str(rebuilt) == (
        "cannot write runs/x/checkpoint.weights.h5: No space left on device; "
        "free space there."
    )

"""Run folders as a jail, one process per folder, bounded input, paths checked
before training, and runs whose checkpoints are gone."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest
from cli_helpers import invoke
from cli_helpers import run_args

from keras_nas.runs import folder_lock
from keras_nas.runs import output_paths


def _assert_refused(result, option, tmp_path):
    """Exit 2, one `Error:` line naming `option`, and nothing written."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert option in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("name", ["../escaped", "/tmp/absolute", "..", ".", "",
                                  "a/../../b", "a/b"])
def test_name_is_one_folder_name(tmp_path, npz_dataset, name):
    args = list(run_args(tmp_path, npz_dataset))
    args[args.index("--name") + 1] = name
    _assert_refused(invoke(*args), "--name", tmp_path)
    assert not (tmp_path / "escaped").exists()


def test_a_link_out_of_the_directory_is_refused(tmp_path, npz_dataset):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "runs").mkdir()
    os.symlink(outside, tmp_path / "runs" / "toy")
    result = invoke(*run_args(tmp_path, npz_dataset))
    assert result.exit_code == 2 and "--name" in result.output
    assert "not inside" in result.output and not os.listdir(outside)


@pytest.mark.parametrize(
    "extra, option",
    [
        (("--epochs", 2**64), "--epochs"),
        (("--max-trials", 100_001), "--max-trials"),
        (("--workers", 10_000), "--workers"),
        (("--seed", -1), "--seed"),
        (("--objective", ","), "--objective"),
        (("--objective", "val_accuracy,"), "--objective"),
        (("--warm-start", "no_such_run"), "--warm-start"),
    ],
)
def test_bounded_options(tmp_path, npz_dataset, extra, option):
    _assert_refused(invoke(*run_args(tmp_path, npz_dataset, *extra)), option, tmp_path)


@pytest.mark.parametrize("option", ["--export-dir", "--tensorboard"])
def test_output_paths_naming_a_file_are_refused_before_training(
    tmp_path, npz_dataset, option
):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    args = list(run_args(tmp_path, npz_dataset))
    if option in args:
        args[args.index(option) + 1] = a_file
    else:
        args += [option, a_file]
    _assert_refused(invoke(*args), option, tmp_path)


def test_alias_bomb_is_refused_quickly_in_one_short_line(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 400
    result = invoke("run", "--config", bomb)
    assert result.exit_code == 2 and len(result.output) < 400
    assert "--config" in result.output and "aliases" in result.output


def test_config_values_are_cut_in_messages(tmp_path):
    config = tmp_path / "long.yaml"
    config.write_text("dataset: [" + ",".join(["1"] * 5000) + "]\n")
    result = invoke("run", "--config", config)
    assert result.exit_code == 2 and len(result.output) < 400, result.output
    assert "characters)" in result.output


def test_config_files_are_limited_in_size(tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text("# " + "x" * 100_000 + "\n")
    result = invoke("run", "--config", config)
    assert result.exit_code == 2 and "larger than" in result.output


def _hold_lock_in_child(folder):
    """Starts a process that holds `folder`'s lock; returns it once it does.

    The child loads `keras_nas/folder_lock.py` alone (no TensorFlow).
    """
    source = importlib.util.find_spec("keras_nas.runs.folder_lock").origin
    code = textwrap.dedent(f"""
        import importlib.util, sys, time
        spec = importlib.util.spec_from_file_location("folder_lock", {source!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.FolderLock({str(folder)!r}, "keras-nas run").acquire()
        print("held", flush=True)
        time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_process_is_refused_and_a_killed_holder_frees_the_folder(
    tmp_path, npz_dataset
):
    child = _hold_lock_in_child(tmp_path / "runs" / "toy")
    try:
        refused = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1))
        assert refused.exit_code == 2, refused.output
        assert f"in use by process {child.pid} (keras-nas run)" in refused.output
        assert f"kill {child.pid}" in refused.output
        assert not (tmp_path / "runs" / "toy").exists()
    finally:
        child.kill()
        child.wait()
    ran = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1,
                           "--no-final-fit", "--ensemble", 1))
    assert ran.exit_code == 0, ran.output


def test_lock_is_reentrant_within_a_process_and_freed_on_release(tmp_path):
    folder = tmp_path / "run"
    with folder_lock.FolderLock(folder, "first"):
        with folder_lock.FolderLock(folder, "second"):
            pass
        assert "in use by process" in _try_lock_in_child(folder)
    assert "acquired" in _try_lock_in_child(folder)
    folder_lock.check_unlocked(folder)


def _try_lock_in_child(folder):
    source = importlib.util.find_spec("keras_nas.runs.folder_lock").origin
    code = textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("folder_lock", {source!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            module.FolderLock({str(folder)!r}).acquire()
            print("acquired")
        except module.FolderLockedError as error:
            print(error)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True).stdout


def test_output_path_checks():
    with pytest.raises(ValueError, match="one folder name"):
        output_paths.check_folder_name("a/b")
    assert output_paths.check_folder_name("run-1") == "run-1"
    with pytest.raises(ValueError, match="not inside"):
        output_paths.check_inside("/tmp/a/../b", "/tmp/a")


def test_show_export_and_report_of_a_run_that_lost_its_weights(
    tmp_path, npz_dataset
):
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2,
                              "--no-final-fit", "--ensemble", 1))
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "toy"
    refused = invoke("show", run_dir, "--columns", "val_loss,nope")
    assert refused.exit_code == 2 and "--columns" in refused.output
    assert "nope" in refused.output and "val_loss" in refused.output
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    refused = invoke("report", run_dir, "--out", a_file)
    assert refused.exit_code == 2 and "--out" in refused.output
    for checkpoint in run_dir.glob("trial_*/checkpoint.weights.h5"):
        checkpoint.unlink()
    shown = invoke("show", run_dir)
    assert shown.exit_code == 0
    assert "Warning: the weights of trial(s) 0, 1 are missing" in shown.output
    exported = invoke("export", run_dir, "--out", tmp_path / "x")
    assert exported.exit_code == 2, exported.output
    assert len(exported.output.strip().splitlines()) == 1
    assert "checkpoint.weights.h5 is missing" in exported.output
    assert not (tmp_path / "x").exists()
    report = invoke("report", run_dir)
    assert report.exit_code == 0, report.output
    page = (run_dir / "report.html").read_text()
    assert "The weights of trial(s) 0, 1 are missing" in page

"""The `keras-nas` command line: run, show, export, and bad input."""

import json

import pytest
from cli_helpers import invoke
from cli_helpers import run_args


def test_run_searches_shows_progress_and_exports(tmp_path, npz_dataset):
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2))
    assert result.exit_code == 0, result.output
    assert "toy: 22 train / 8 val / 10 test, input (6,), binary (0 / 1)" in result.output
    assert "Task: int labels with 2 distinct values: binary" in result.output
    assert "Trial 1/2" in result.output and "Trial 2/2" in result.output
    assert "elapsed" in result.output and "Leaderboard" in result.output
    export_dir = tmp_path / "models" / "toy"
    assert (export_dir / "saved_model.pb").exists()
    metrics = json.loads((export_dir / "metrics.json").read_text())
    assert "test_accuracy" in metrics


def test_existing_run_needs_resume_or_overwrite(tmp_path, npz_dataset):
    # The final fit and ensemble are left out: this test is about the folder.
    quick = ("--no-final-fit", "--ensemble", 1)
    assert invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1, *quick)).exit_code == 0
    again = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2, *quick))
    assert again.exit_code == 2
    assert "--resume" in again.output and "Traceback" not in again.output
    resumed = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2, "--resume", *quick))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after 1 finished trials" in resumed.output
    assert "Trial 2/2" in resumed.output and "Trial 1/2" not in resumed.output
    other_seed = invoke(
        *run_args(tmp_path, npz_dataset, "--max-trials", 3, "--resume", "--seed", 9, *quick)
    )
    assert other_seed.exit_code == 2 and "seed" in other_seed.output


def test_show_and_export_a_finished_run(tmp_path, npz_dataset):
    assert invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2,
                            "--no-final-fit", "--ensemble", 1)).exit_code == 0
    run_dir = tmp_path / "runs" / "toy"
    shown = invoke("show", run_dir)
    assert shown.exit_code == 0, shown.output
    assert "2 completed" in shown.output and "Best architecture" in shown.output
    out = tmp_path / "again"
    exported = invoke("export", run_dir, "--out", out)
    assert exported.exit_code == 0, exported.output
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] >= 0
    refused = invoke("export", run_dir, "--out", out)
    assert refused.exit_code == 2 and "overwrite" in refused.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "--max-trials", 0), "--max-trials"),
        (("run", "--strategy", "nope"), "--strategy"),
        (("run", "--space", "nope"), "--space"),
        (("run", "--objective", "nope"), "--objective"),
        (("run", "--objective", "val_accuracy,nope"), "objective='nope'"),
        (("run", "--select", "val_accuracy, latency_ms=<3"), "--select"),
        (("run", "--max-params", 0), "--max-params"),
        (("run", "--max-latency-ms", -2), "--max-latency-ms"),
        (("run", "--epochs", -1), "--epochs"),
        (("run", "--dataset", "missing.npz"), "missing.npz"),
        (("run", "--dataset", "weird-name"), "weird-name"),
        (("show", "no_such_run"), "not a keras-nas run folder"),
        (("export", "no_such_run", "--out", "x"), "not a keras-nas run folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert not (tmp_path / "runs").exists()


def test_image_space_rejects_tabular_data(tmp_path, npz_dataset):
    result = invoke(*run_args(tmp_path, npz_dataset, "--space", "convnet"))
    assert result.exit_code == 2
    assert "tabular inputs of shape (6,)" in result.output
    assert "'convnet' space, which takes image or audio inputs" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_two_objectives_a_budget_and_a_rule(tmp_path, npz_dataset):
    result = invoke(*run_args(
        tmp_path, npz_dataset, "--max-trials", 3, "--objective", "val_accuracy,flops",
        "--max-params", 300, "--select", "val_accuracy, flops<=300", "--no-final-fit",
    ))
    assert result.exit_code == 0, result.output
    assert "objectives val_accuracy, flops, max_params=300" in result.output
    assert "Leaderboard: Pareto fronts of val_accuracy (max), flops (min)" in result.output
    assert "Selected best val_accuracy with flops<=300: trial" in result.output
    run_dir = tmp_path / "runs" / "toy"
    trials = [json.loads(p.read_text()) for p in run_dir.glob("trial_*/trial.json")]
    trained = [t for t in trials if t["status"] == "COMPLETED"]
    assert len(trained) == 3  # Infeasible trials do not use the budget.
    for trial in trials:
        params = trial["metrics"]["metrics"]["params"]["observations"][0]["value"][0]
        if trial["status"] == "COMPLETED":
            assert params <= 300
        else:
            assert params > 300 and trial["message"].startswith("infeasible: params")
    metrics = json.loads((tmp_path / "models" / "toy" / "metrics.json").read_text())
    assert metrics["flops"] <= 300 and metrics["selection"]["rule"] == "val_accuracy, flops<=300"
    shown = invoke("show", run_dir, "--columns", "val_f1,latency_ms")
    assert shown.exit_code == 0, shown.output
    assert "front" in shown.output and "val_f1" in shown.output and "latency_ms" in shown.output
    again = invoke("export", run_dir, "--out", tmp_path / "small", "--select", "val_accuracy, flops<=1")
    assert again.exit_code == 2 and "flops<=1" in again.output


def test_default_space_follows_the_data(tmp_path, npz_dataset, npz_images):
    from keras_nas.spaces import default_space

    assert default_space((8, 8, 1)) == "convnet"
    assert default_space((6,)) == "mlp" and default_space((80, 2)) == "mlp"
    args = list(run_args(tmp_path, npz_dataset, "--max-trials", 1,
                         "--no-final-fit", "--ensemble", 1))
    del args[args.index("--space"):args.index("--space") + 2]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "RandomSearchOracle on mlp" in result.output

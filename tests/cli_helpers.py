"""Helpers shared by the command-line tests."""

import glob
import json
import os

from click.testing import CliRunner
from keras_nas_cli.main import app


def invoke(*args):
    """Runs `keras-nas ARGS...` in-process; returns click's `Result`."""
    return CliRunner().invoke(app, [str(a) for a in args])


def run_args(tmp_path, dataset, *extra):
    """`keras-nas run` arguments for a 1-epoch MLP search in `tmp_path`."""
    return (
        "run", "--dataset", dataset, "--space", "mlp", "--epochs", 1,
        "--directory", tmp_path / "runs", "--name", "toy",
        "--export-dir", tmp_path / "models", *extra,
    )


def completed_trials(run_dir):
    """The completed trials' files of a run folder, by trial id."""
    trials = {}
    for path in glob.glob(os.path.join(run_dir, "trial_*", "trial.json")):
        with open(path) as f:
            trial = json.load(f)
        if trial["status"] == "COMPLETED":
            trials[trial["trial_id"]] = trial
    return trials

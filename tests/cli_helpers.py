"""Helpers shared by the command-line tests."""

import glob
import json
import os

import numpy as np
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


def write_toy_npz(folder):
    """Writes a 40-sample, 6-feature, 2-class `toy.npz` in `folder`; its path."""
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, 6)).astype("float32") + y[:, None]
    path = folder / "toy.npz"
    np.savez(path, x=x, y=y)
    return str(path)

"""The epochs a trial trains when `--epochs` is not given."""

import json
import math
import re

import pytest

from cli_helpers import invoke
from keras_nas.training.epochs import EPOCH_LIMITS
from keras_nas.training.epochs import TARGET_STEPS
from keras_nas.training.epochs import default_epochs


@pytest.mark.parametrize("train_size, batch_size, epochs", [
    (55, 32, 100),         # 2 steps an epoch: capped at 100 epochs.
    (1_078, 32, 12),       # 34 steps an epoch: ceil(400 / 34).
    (2_700, 32, 10),       # 85 steps an epoch: 5 would do, at least 10.
    (50_000, 128, 10),
    (4_000, 1, 10),
])
def test_epochs_aim_at_a_number_of_steps_within_limits(train_size, batch_size, epochs):
    assert default_epochs(train_size, batch_size) == epochs
    assert EPOCH_LIMITS == (10, 100) and TARGET_STEPS == 400


@pytest.mark.parametrize("argument", ["train_size", "batch_size"])
def test_bad_sizes_are_named(argument):
    sizes = {"train_size": 100, "batch_size": 32, argument: 0}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        default_epochs(**sizes)


def test_a_run_without_epochs_trains_the_default(tmp_path, npz_dataset):
    result = invoke(
        "run", "--dataset", npz_dataset, "--space", "mlp", "--max-trials", 1,
        "--batch-size", 1, "--no-final-fit", "--ensemble", 1,
        "--directory", tmp_path / "runs", "--name", "toy",
        "--export-dir", tmp_path / "models",
    )
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "runs" / "toy" / "dataset.json").read_text())
    train = int(re.search(r": (\d+) train /", result.output).group(1))
    epochs = math.ceil(TARGET_STEPS / train)  # One row a step.
    assert 10 < epochs < 100 and record["epochs"] == epochs
    assert f"Epochs trained: {epochs} of 1 trials x {epochs} epochs" in result.output

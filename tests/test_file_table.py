"""A CSV of image files and regression targets, through `load_dataset` and `keras-nas run`."""

import json

import numpy as np
import pytest
import tensorflow as tf

import keras_nas as kn
from cli_helpers import invoke
from keras_nas.split_indices import DatasetError
from test_modalities import _serve_in_tensorflow_only

RNG = np.random.default_rng(0)


def _table(folder, count=48, size=(10, 12)):
    """Images whose target is their brightness, named by a CSV beside them."""
    (folder / "photos").mkdir(parents=True)
    rows = ["image,brightness"]
    for i in range(count):
        level = 40 if i % 2 else 200
        image = np.clip(RNG.normal(level, 20, (*size, 3)), 0, 255).astype("uint8")
        (folder / "photos" / f"{i:03d}.png").write_bytes(tf.io.encode_png(image).numpy())
        rows.append(f"photos/{i:03d}.png,{level / 100}")
    path = folder / "photos.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_csv_of_image_files_and_targets_is_split_and_read_as_a_folder(tmp_path):
    path = _table(tmp_path)
    data = kn.data.load_dataset(path, seed=1)
    assert data.modality == "image" and "column 'image'" in data.modality_reason
    assert data.task.name == "regression"
    assert data.x_train.dtype == np.uint8 and data.x_train.shape[1:] == (10, 12, 3)
    files = data.details["files"]
    assert sorted(sum(files.values(), [])) == [f"photos/{i:03d}.png" for i in range(48)]
    # Each image keeps its own target: bright ones 2.0, dark ones 0.4.
    brightness = data.x_train.reshape(len(data.x_train), -1).mean(axis=1)
    np.testing.assert_allclose(data.y_train[:, 0], np.where(brightness > 120, 2.0, 0.4))
    with pytest.raises(DatasetError, match="column 'image' names image files"):
        kn.data.load_dataset(path, modality="text")


def test_a_missing_file_is_named_or_skipped(tmp_path):
    path = _table(tmp_path)
    (tmp_path / "photos" / "007.png").unlink()
    with pytest.raises(DatasetError, match="photos/007.png cannot be read"):
        kn.data.load_dataset(path)
    data = kn.data.load_dataset(path, skip_bad_files=True)
    assert len(data.details["skipped"]) == 1  # A target, not a class: nothing lost.


def test_run_on_a_csv_of_images_serves_raw_images_tensorflow_only(tmp_path):
    path = _table(tmp_path)
    result = invoke(
        "run", "--dataset", path, "--max-trials", 1, "--epochs", 8,
        "--batch-size", 8, "--no-final-fit", "--ensemble", 1,
        "--directory", tmp_path / "runs", "--name", "m",
        "--export-dir", tmp_path / "models",
    )
    assert result.exit_code == 0, result.output
    assert "Task: " in result.output and "regression" in result.output
    record = json.loads((tmp_path / "runs" / "m" / "dataset.json").read_text())
    assert record["modality"] == "image" and len(record["files"]["test"]) == 12
    levels = [40] * 5 + [200] * 5
    images = np.clip([RNG.normal(v, 20, (15, 9, 3)) for v in levels], 0, 255)
    outputs, dtype = _serve_in_tensorflow_only(
        tmp_path / "models" / "m", {"a": images.astype("uint8")}, tmp_path
    )
    assert dtype == "uint8" and outputs.shape == (10, 1)
    # A few steps of training rank bright images above dark ones.
    assert outputs[5:].min() > outputs[:5].max(), outputs[:, 0]

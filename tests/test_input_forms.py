"""Every label kind and file form, from the data file to a served model.

Label kinds: integers (-1, 0, 1), text (cat, dog), Booleans, one-hot rows,
float targets and several target columns, each as a `.npz` (`x`, `y`) and,
where a `.csv` can hold it (one label column: not one-hot rows nor several
targets), as a `.csv`; each with and without `--task`.

The file form and `--task` only change what `load_dataset` reads: `keras-nas
run` hands its `DatasetSplits` to `NASTuner.search` and `export` and nothing
else. So one cheap test loads every (kind, form, `--task`) cell and checks it
gives the same splits as the `.npz` without `--task` (and that the tuner's
encoding keeps them), and one tiny search per kind (1 trial, 3 epochs of one
small MLP) goes through `keras-nas run` (text, int and float from a `.csv`,
Booleans and several targets from a `.npz`, int and float with `--task`)
or the Python API (text and one-hot rows from a `.npz`) to an export loaded
by TensorFlow alone, whose outputs must follow `metrics.json["class_names"]`
or be in the targets' units.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke
from cli_helpers import run_args

import keras_nas as kn
from keras_nas.data import load_dataset

ROWS = 60
TEST_FRACTION = 0.25  # `keras-nas run`'s default.
SPACE = {"min_layers": 1, "max_layers": 1, "widths": [16], "activations": ["tanh"],
         "dropout_rates": [0.0], "batch_norm": [False], "skip_connections": False,
         "learning_rate": 0.1}
"""One architecture, which learns the toy labels below in 3 epochs of batch 4."""
FIT = {"epochs": 3, "batch_size": 4}
KINDS = ("int", "text", "bool", "one_hot", "float", "targets")
CSV_KINDS = ("int", "text", "bool", "float")
FILES = [(kind, "npz") for kind in KINDS] + [(kind, "csv") for kind in CSV_KINDS]
TASKS = {"int": "multiclass", "text": "binary", "bool": "binary",
         "one_hot": "multiclass", "float": "regression", "targets": "regression"}


def _features():
    """60 rows of 3 raw-scale features in 3 clusters; `(x, cluster)`.

    The clusters' centres are the corners of a triangle in the plane of the
    first and last feature (radius 2, deviation 0.3 before scaling).
    """
    rng = np.random.default_rng(0)
    cluster = np.arange(ROWS) % 3
    angle = 2 * np.pi * cluster / 3
    x = rng.normal(size=(ROWS, 3)) * 0.3
    x[:, 0] += 2 * np.cos(angle)
    x[:, 2] += 2 * np.sin(angle)
    return x * [1.0, 50.0, 0.01] + [0.0, 500.0, 3.0], cluster


def _labels(kind):
    """The labels of `kind` for the rows of `_features`."""
    x, cluster = _features()
    first, last = x[:, 0], (x[:, 2] - 3.0) / 0.01  # Before scaling.
    return {
        "int": np.array([-1, 0, 1])[cluster],
        "text": np.where(cluster == 0, "dog", "cat"),
        "bool": cluster == 0,
        "one_hot": np.eye(3, dtype="float32")[cluster],
        "float": 100.0 + 10.0 * first,
        "targets": np.stack([100.0 + 10.0 * first, -50.0 + 5.0 * last], axis=1),
    }[kind]


def _truth(kind, form):
    """Every row's class as `class_names` names it: a `.csv` cell is text."""
    y = _labels(kind)
    if kind == "one_hot":
        return y.argmax(axis=1).tolist()
    return [str(v) for v in y] if (kind, form) == ("bool", "csv") else y.tolist()


def _write(folder, kind, form):
    """Writes the data of `kind` as a `.npz` or `.csv` file; returns its path."""
    x, _ = _features()
    y = _labels(kind)
    path = folder / f"{kind}.{form}"
    if form == "npz":
        np.savez(path, x=x.astype("float32"), y=y)
    else:
        rows = [f"{a!r},{b!r},{c!r},{label}" for (a, b, c), label in zip(x.tolist(), y)]
        path.write_text("\n".join(["a,b,c,label", *rows]) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every (kind, form) data file, written once: `{(kind, form): path}`."""
    folder = tmp_path_factory.mktemp("input_forms")
    return {(kind, form): _write(folder, kind, form) for kind, form in FILES}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    """A `--config` file holding the one-architecture MLP space."""
    path = tmp_path_factory.mktemp("config") / "space.json"
    path.write_text(json.dumps({"space": {"name": "mlp", **SPACE}}))
    return str(path)


def _check_served(export_dir, kind, form):
    """Served columns follow `class_names`, or are in the targets' units."""
    x, _ = _features()
    model = tf.saved_model.load(str(export_dir))  # Kept: TF 2.21 needs the reference.
    outputs = model.serve(tf.constant(x, dtype=tf.float32)).numpy()
    if TASKS[kind] == "regression":
        y = _labels(kind).reshape(ROWS, -1)
        assert outputs.shape == y.shape
        # Each column near its own target's mean, not the standardised 0.
        assert (np.abs(outputs.mean(axis=0) - y.mean(axis=0)) < y.std(axis=0)).all()
        assert np.corrcoef(outputs[:, 0], y[:, 0])[0, 1] > 0.8
        return
    truth = _truth(kind, form)
    names = json.loads((export_dir / "metrics.json").read_text())["class_names"]
    assert names == sorted(set(truth))
    if TASKS[kind] == "binary":  # One sigmoid: the probability of names[1].
        assert outputs.shape == (ROWS, 1)
        predicted = [names[int(p > 0.5)] for p in outputs[:, 0]]
    else:
        assert outputs.shape == (ROWS, len(names))
        predicted = [names[i] for i in outputs.argmax(axis=1)]
    agreement = np.mean([p == t for p, t in zip(predicted, truth)])
    assert agreement >= 0.8, (names, predicted[:9], truth[:9])


def _run(tmp_path, dataset, config, *extra):
    """`keras-nas run`: one trial, no final fit, no ensemble; the export folder."""
    result = invoke(*run_args(
        tmp_path, dataset, "--config", config, "--max-trials", 1,
        "--epochs", FIT["epochs"], "--batch-size", FIT["batch_size"],
        "--no-final-fit", "--ensemble", 1, *extra,
    ))
    assert result.exit_code == 0, result.output
    return tmp_path / "models" / "toy"


@pytest.mark.parametrize("kind, form", FILES)
def test_every_form_with_or_without_task_gives_the_same_splits(files, kind, form):
    reference = load_dataset(files[kind, "npz"], test_fraction=TEST_FRACTION)
    for task in (None, TASKS[kind]):
        data = load_dataset(files[kind, form], task=task, test_fraction=TEST_FRACTION)
        assert data.task.name == TASKS[kind]
        for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(data, part), getattr(reference, part))
            # What NASTuner.search and export do with the labels they are given.
            if part.startswith("y"):
                labels = getattr(data, part)
                np.testing.assert_array_equal(data.task.encode(labels), labels)
        if data.task.is_classification:
            assert [str(c) for c in data.task.class_names] == [
                str(c) for c in reference.task.class_names
            ]
        else:
            assert data.task.get_config() == reference.task.get_config()


@pytest.mark.parametrize(
    "kind, form, task",
    [("int", "csv", "multiclass"), ("bool", "npz", None),
     ("float", "csv", "regression"), ("targets", "npz", None)],
)
def test_keras_nas_run_serves_outputs_in_class_order(
    tmp_path, files, config, kind, form, task
):
    extra = () if task is None else ("--task", task)
    export_dir = _run(tmp_path, files[kind, form], config, *extra)
    _check_served(export_dir, kind, form)


def test_text_labels_through_keras_nas_run_and_export(tmp_path, files, config):
    export_dir = _run(tmp_path, files["text", "csv"], config)
    _check_served(export_dir, "text", "csv")
    again = tmp_path / "again"
    result = invoke("export", tmp_path / "runs" / "toy", "--out", again)
    assert result.exit_code == 0, result.output
    _check_served(again, "text", "csv")


@pytest.mark.parametrize("kind", ["text", "one_hot"])
def test_load_dataset_search_and_export_in_python(tmp_path, files, kind):
    data = load_dataset(files[kind, "npz"], test_fraction=TEST_FRACTION)
    space = kn.spaces.MLP(data.input_shape, task=data.task, **SPACE)
    tuner = kn.NASTuner(space, max_trials=1, directory=tmp_path, seed=0, verbose=0)
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                 **FIT)
    path = tuner.export(tmp_path / "export", x_test=data.x_test, y_test=data.y_test)
    _check_served(path, kind, "npz")


def test_features_whose_scaling_overflows_float32_exit_2(tmp_path):
    x, _ = _features()
    x[7, 1] = 1e38
    dataset = tmp_path / "huge.npz"
    np.savez(dataset, x=x, y=_labels("text"))
    result = invoke(*run_args(tmp_path, dataset))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "1 values of magnitude above 1.84e+19" in lines[0]
    assert "rows [7] columns [1]" in lines[0]
    assert not (tmp_path / "runs").exists()

"""Tasks: detection, labels, heads, and every space and search on every task."""

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

import keras_nas as kn
from keras_nas import tasks


@pytest.mark.parametrize(
    "y, name, reason",
    [
        (np.arange(300) % 10, "multiclass", "int labels with 10 classes: multiclass"),
        (np.array([0, 1] * 20), "binary", "int labels with 2 distinct values: binary"),
        (np.array(["cat", "dog"] * 5), "binary", "text labels with 2 distinct values"),
        (np.array(["a", "b", "c"] * 5), "multiclass", "text labels with 3 classes"),
        (np.linspace(25, 346, 214), "regression",
         "float targets with 214 distinct values: regression"),
        (np.arange(400) * 1.0, "regression", "float targets with 400 distinct"),
        (np.array([0.0, 1.0, 2.0] * 9), "multiclass", "whole-number float labels"),
        (np.eye(4)[np.arange(20) % 4], "multiclass", "one-hot labels with 4 columns"),
        (np.random.default_rng(0).normal(size=(30, 2)), "regression",
         "2 numeric target columns"),
        (np.arange(500), "regression", "int targets with 500 distinct values"),
    ],
)
def test_detect_task_chooses_and_says_why(y, name, reason):
    task, text = tasks.detect_task(y)
    assert task.name == name
    assert reason in text


def test_classes_are_sorted_and_non_negative_integers_keep_their_index():
    task = tasks.Multiclass().fit(np.array(["dog", "cat", "emu", "cat"]))
    assert task.class_names == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(task.encode(np.array(["emu", "cat"])), [2, 0])
    task = tasks.Multiclass().fit(np.array([0, 3, 3, 1]))
    assert task.class_names == [0, 1, 2, 3]
    np.testing.assert_array_equal(task.encode(np.array([3, 0])), [3, 0])
    one_hot = np.eye(3)[[2, 0, 1]]
    np.testing.assert_array_equal(
        tasks.Multiclass(3).fit(one_hot).encode(one_hot), [2, 0, 1]
    )


def test_binary_maps_two_values_to_zero_and_one_the_second_positive():
    task = tasks.Binary().fit(np.array(["no", "yes", "yes"]))
    assert task.class_names == ["no", "yes"]
    encoded = task.encode(np.array(["yes", "no"]))
    assert encoded.dtype == np.float32 and encoded.shape == (2, 1)
    np.testing.assert_array_equal(encoded[:, 0], [1.0, 0.0])


@pytest.mark.parametrize(
    "task, y, message",
    [
        ("binary", [0, 1, 2], r"`task`: 'binary' needs labels with exactly two "
                              r"distinct values.*3: \[0, 1, 2\]"),
        ("regression", ["cat", "dog"], r"regression task needs numeric targets"),
        ("multiclass", [0.5, 1.5, 2.0], r"floats that are not whole numbers"),
        ("regression", [1.0, np.nan, 2.0], r"1 regression targets are NaN"),
    ],
)
def test_a_wrong_explicit_task_is_one_line_naming_it(task, y, message):
    with pytest.raises(tasks.TaskError, match=message) as raised:
        tasks.get_task(task).fit(np.array(y))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "task, y",
    [
        (tasks.Binary(), np.array(["cat", "dog", "dog"])),
        (tasks.Multiclass(), np.array(["a", "c", "b"])),
        (tasks.Binary(), np.array([True, False, True])),
        (tasks.Binary(), np.array([3, 7, 7])),
        (tasks.Binary(), np.array([1, 2, 1])),
        (tasks.Binary(class_names=[1, 0]), np.array([0, 1, 1])),
        (tasks.Multiclass(), np.array([-1, 0, 1, 1])),
        (tasks.Multiclass(), np.array([0.0, 2.0, 1.0])),
        (tasks.Multiclass(3), np.eye(3)[[2, 0, 1]]),
        (tasks.Binary(), np.eye(2)[[1, 0]]),
    ],
)
def test_encode_keeps_labels_it_encoded(task, y):
    task = task.fit(y)
    encoded = task.encode(y)
    np.testing.assert_array_equal(task.encode(encoded), encoded)
    # Also parts holding only some classes, as a small split may.
    np.testing.assert_array_equal(task.encode(encoded[1:2]), encoded[1:2])


def test_class_indices_are_read_as_such_and_names_as_names():
    text = tasks.Multiclass(class_names=["a", "b", "c"])
    np.testing.assert_array_equal(text.encode(np.array([2, 0])), [2, 0])
    np.testing.assert_array_equal(text.encode(np.eye(3)[[1, 2]]), [1, 2])
    # Labels 1 and 2 are both class names and indices of [1, 2]: raw labels
    # (int64 here) are names, labels of encode's dtype (float32) indices.
    ones = tasks.Binary().fit(np.array([1, 2]))
    assert ones.encode(np.array([1, 1]))[:, 0].tolist() == [0.0, 0.0]
    assert ones.encode(np.array([[1.0]], "float32"))[:, 0].tolist() == [1.0]
    with pytest.raises(tasks.TaskError, match=r"`y`: label 5 is not one of the "
                                              r"task's classes \['a', 'b', 'c'\] nor "
                                              r"a class index in \[0, 3\)\. "
                                              r"Received: y\[1\]=5$"):
        text.encode(np.array([0, 5]))


def test_unknown_labels_and_objectives_are_refused():
    task = tasks.Multiclass().fit(np.array([0, 1, 2]))
    with pytest.raises(tasks.TaskError, match=r"`y_test`: label 7 is not one"):
        task.encode(np.array([1, 7]), "y_test")
    with pytest.raises(ValueError, match=r"regression task reports .*val_mae.*"
                                         r"Received: objective='val_accuracy'"):
        tasks.Regression().objective("val_accuracy")
    assert tasks.Regression().objective("val_r2").direction == "max"
    assert tasks.Regression().objective(None).name == "val_loss"
    assert tasks.Binary().objective(None) == kt.Objective("val_accuracy", "max")


def test_regression_targets_are_standardised_inside_the_head():
    y = np.array([[100.0], [200.0], [300.0]])
    task = tasks.Regression().fit(y)
    assert task.target_mean == [200.0]
    np.testing.assert_allclose(task.target_std, [np.std(y)], rtol=1e-6)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, task.head(inputs))
    model.get_layer("regression").set_weights([np.zeros((2, 1)), np.ones(1)])
    # One standard deviation above the mean, in the original units.
    np.testing.assert_allclose(model(np.zeros((1, 2))), [[200.0 + np.std(y)]],
                               rtol=1e-5)


def test_task_configs_round_trip():
    for task in (
        tasks.Multiclass().fit(np.array(["a", "b", "c"])),
        tasks.Binary().fit(np.array([3, 7])),
        tasks.Regression().fit(np.random.default_rng(0).normal(size=(9, 2))),
    ):
        config = json.loads(json.dumps(task.get_config()))
        assert tasks.get_task(config).get_config() == task.get_config()


def _tabular(task_name, n=48, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32") * 1000.0 + 500.0
    score = (x[:, 0] - 500.0) / 1000.0
    if task_name == "regression":
        y = 300.0 * score + 40.0
    elif task_name == "binary":
        y = np.where(score > 0, "yes", "no")
    else:
        y = np.digitize(score, [-0.5, 0.5])
    return x, y


def _images(task_name, n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 8, 8, 1)).astype("float32")
    score = x[:, :4].mean(axis=(1, 2, 3)) - 0.5
    if task_name == "regression":
        y = 10 * score
    elif task_name == "binary":
        y = (score > 0).astype("int64")
    else:
        y = np.arange(n) % 3
    return x, y


SPACES = {
    "mlp": lambda shape, task: kn.spaces.MLP(shape, task=task, max_layers=2,
                                             widths=(8,)),
    "convnet": lambda shape, task: kn.spaces.ConvNet(shape, task=task, max_blocks=1,
                                                     filters=(4,)),
    "nb201": lambda shape, task: kn.spaces.NB201Cell(shape, task=task, channels=4),
}


@pytest.mark.parametrize("task_name", tasks.TASKS)
@pytest.mark.parametrize("space_name", sorted(SPACES))
def test_every_space_builds_trains_and_reports_for_every_task(
    space_name, task_name, tmp_path
):
    x, y = (_tabular if space_name == "mlp" else _images)(task_name)
    space = SPACES[space_name](x.shape[1:], task_name)
    tuner = kn.NASTuner(space, max_trials=1, directory=tmp_path, seed=0, verbose=0)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert trial.status == "COMPLETED"
    expected = {"regression": {"val_mae", "val_rmse", "val_r2", "val_loss"},
                "binary": {"val_accuracy", "val_loss"},
                "multiclass": {"val_accuracy", "val_loss"}}[task_name]
    assert expected <= set(trial.metrics.metrics)
    assert tuner.oracle.objective.name == (
        "val_loss" if task_name == "regression" else "val_accuracy"
    )
    outputs = tuner.load_model(trial).output_shape[-1]
    assert outputs == {"regression": 1, "binary": 1, "multiclass": 3}[task_name]


def test_export_of_a_binary_search_on_raw_scale_text_labels(tmp_path):
    x, y = _tabular("binary", n=300)
    tuner = kn.NASTuner(kn.spaces.MLP(x.shape[1:], task="binary", max_layers=1),
                        max_trials=1, directory=tmp_path, seed=0, verbose=0)
    tuner.search(x[:200], y[:200], validation_data=(x[200:], y[200:]), epochs=20)
    path = tuner.export(tmp_path / "export", x_test=x[200:], y_test=y[200:])
    metrics = json.loads((path / "metrics.json").read_text())
    architecture = json.loads((path / "architecture.json").read_text())
    assert metrics["task"] == "binary" and metrics["class_names"] == ["no", "yes"]
    assert architecture["task"]["class_names"] == ["no", "yes"]
    served = tf.saved_model.load(str(path))
    probabilities = served.serve(x[200:]).numpy()[:, 0]
    # Raw inputs (values around 500 +- 1000) are normalised inside the model.
    accuracy = np.mean((probabilities > 0.5) == (y[200:] == "yes"))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert accuracy >= 0.9


def test_regression_export_predicts_in_the_original_units_with_r2(tmp_path):
    x, y = _tabular("regression", n=120)
    tuner = kn.NASTuner(kn.spaces.MLP(x.shape[1:], task="regression", max_layers=1),
                        max_trials=1, directory=tmp_path, seed=0, verbose=0)
    tuner.search(x[:80], y[:80], validation_data=(x[80:100], y[80:100]), epochs=30)
    path = tuner.export(tmp_path / "export", x_test=x[100:], y_test=y[100:])
    metrics = json.loads((path / "metrics.json").read_text())
    served = tf.saved_model.load(str(path))
    predictions = served.serve(x[100:]).numpy()[:, 0]
    y_test = y[100:]
    r2 = 1 - np.sum((predictions - y_test) ** 2) / np.sum((y_test - y_test.mean()) ** 2)
    assert r2 == pytest.approx(metrics["test_r2"], abs=1e-3)
    assert r2 > 0.8  # a linear target, learnt in the original units
    assert {"test_mae", "test_rmse", "val_r2"} <= set(metrics)


def test_the_task_option_of_nastuner_overrides_the_space(tmp_path):
    space = kn.spaces.MLP((5,), num_classes=2)
    tuner = kn.NASTuner(space, task="regression", max_trials=1,
                        directory=tmp_path, seed=0, verbose=0)
    assert tuner.hypermodel.task.name == "regression"
    assert space.task.name == "multiclass"  # the caller's space is untouched
    assert tuner.oracle.objective.name == "val_loss"
    with pytest.raises(ValueError, match=r"regression task reports.*"
                                         r"objective='val_accuracy'"):
        kn.NASTuner(space, task="regression", objective="val_accuracy",
                    max_trials=1, directory=tmp_path, project_name="p2")
    with pytest.raises(ValueError, match=r"`task`: it applies to keras-nas spaces"):
        kn.NASTuner(lambda hp: None, task="binary", directory=tmp_path,
                    project_name="p3")


def test_features_with_nan_are_refused_before_training(tmp_path):
    x, y = _tabular("multiclass")
    x[3, 2] = np.nan
    tuner = kn.NASTuner(kn.spaces.MLP(x.shape[1:], num_classes=3), max_trials=1,
                        directory=tmp_path, seed=0, verbose=0)
    with pytest.raises(ValueError, match=r"`x`: 1 NaN or infinite values, the "
                                         r"first at index \[3, 2\]"):
        tuner.search(x, y, epochs=1)
    assert not tuner.oracle.trials


def test_features_whose_scaling_overflows_float32_are_refused(tmp_path):
    x, y = _tabular("multiclass")
    x[5, 1] = -1e20
    tuner = kn.NASTuner(kn.spaces.MLP(x.shape[1:], num_classes=3), max_trials=1,
                        directory=tmp_path, seed=0, verbose=0)
    with pytest.raises(ValueError, match=r"`x`: 1 values of magnitude above "
                                         r"1.84e\+19, the first at index \[5, 1\]"):
        tuner.search(x, y, epochs=1)
    assert not tuner.oracle.trials


def test_normalisation_is_adapted_on_the_training_split_and_saved(tmp_path):
    x, y = _tabular("multiclass")
    space = kn.spaces.MLP(x.shape[1:], num_classes=3, max_layers=1)
    tuner = kn.NASTuner(space, max_trials=1, directory=tmp_path,
                        project_name="n", seed=0, verbose=0)
    tuner.search(x, y, validation_data=(x[:5] * 0, y[:5]), epochs=1)
    stats = tuner.hypermodel.normalization
    np.testing.assert_allclose(stats["mean"], x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["variance"], x.var(axis=0), rtol=1e-4)
    from keras_nas.runs.run_directory import RunDirectory

    run = RunDirectory(tmp_path / "n")
    assert run.space.normalization == stats
    assert space.normalization is None  # the tuner adapted its own copy
    assert not kn.spaces.ConvNet((8, 8, 1), num_classes=3).normalize


@pytest.mark.parametrize("task_name", ["binary", "regression"])
def test_darts_searches_with_the_task_loss_and_metrics(task_name):
    x, y = _images(task_name, n=16)
    # Three operations, as in test_darts_search.py: the task's loss and
    # metrics do not depend on them, and the supernet trains in half the time.
    space = kn.spaces.NB201Cell((8, 8, 1), task=task_name, channels=4,
                                operations=("none", "skip_connect", "nor_conv_3x3"))
    space.adapt(x, y)
    y = space.task.encode(y)
    search = kn.darts.DartsSearch(space, seed=0)
    history = search.fit(x, y, x, y, epochs=1, batch_size=8)
    metric = "val_mae" if task_name == "regression" else "val_accuracy"
    assert metric in history.history and np.isfinite(history.history["val_loss"][0])
    model = search.build_model()
    assert model.output_shape == (None, 1)


def test_a_copied_space_builds_with_its_own_task():
    import copy

    space = kn.spaces.MLP((5,), num_classes=3, max_layers=1)
    clone = copy.copy(space)
    clone.task = tasks.Regression(targets=2)  # not fitted: mean 0, deviation 1
    hp = kt.HyperParameters()
    clone.declare_hyperparameters(hp)
    assert clone.build(hp).output_shape == (None, 2)
    assert space.build(hp).output_shape == (None, 3)

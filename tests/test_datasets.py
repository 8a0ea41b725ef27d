"""Tests for keras_nas.data: the bundled digits, loaders and splits."""

import importlib.resources
import re
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_nas import tasks
from keras_nas.data import DatasetError
from keras_nas.data import DatasetSplits
from keras_nas.data import load_dataset
from keras_nas.data import loaders
from keras_nas.data.splits import split_dataset
from keras_nas.split_indices import stratified_indices


def _parts(data):
    return (
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    )


def _row_hashes(x):
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _refusal(spec, **kwargs):
    """The one-line message of the `DatasetError` that `load_dataset` raises."""
    with pytest.raises(DatasetError) as info:
        load_dataset(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def _write_csv(path, header, rows, blank_lines=""):
    """A .csv file of a header line and `rows`, one a line; returns its path."""
    path.write_text(header + "\n" + blank_lines + "\n".join(rows) + "\n" + blank_lines)
    return path


def _unique_rows(n, features):
    """Rows that differ from each other, so row hashes identify samples."""
    return np.arange(n * features, dtype="float64").reshape(n, features)


# The bundled digits.


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_digits_shapes_dtypes_and_range(digits):
    assert isinstance(digits, DatasetSplits)
    assert digits.name == "digits"
    assert digits.input_shape == (8, 8, 1)
    assert digits.num_classes == 10
    for x, y in _parts(digits):
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.shape[1:] == (8, 8, 1) and len(x) == len(y)
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert y.min() >= 0 and y.max() <= 9


def test_digits_counts_and_summary(digits):
    assert sum(len(y) for _, y in _parts(digits)) == 1797
    assert digits.summary() == (
        "digits: 1,078 train / 360 val / 359 test, input (8, 8, 1), 10 classes"
    )


def test_digits_values_are_sixteenths(digits):
    x = np.concatenate([x for x, _ in _parts(digits)])
    np.testing.assert_array_equal(x * 16.0, np.round(x * 16.0))
    assert x.max() == 1.0


def test_every_class_in_every_split(digits):
    for _, y in _parts(digits):
        assert set(np.unique(y)) == set(range(10))


def test_split_is_stratified():
    y = np.repeat(np.arange(3), [50, 100, 150])
    train, val, test = stratified_indices(
        y, seed=0, validation_fraction=0.2, test_fraction=0.1
    )
    np.testing.assert_array_equal(np.bincount(y[val]), [10, 20, 30])
    np.testing.assert_array_equal(np.bincount(y[test]), [5, 10, 15])
    np.testing.assert_array_equal(np.bincount(y[train]), [35, 70, 105])


def test_split_indices_are_disjoint_and_cover_all():
    y = np.arange(97) % 4
    train, val, test = stratified_indices(y, seed=3)
    both = np.concatenate([train, val, test])
    np.testing.assert_array_equal(np.sort(both), np.arange(97))


def test_split_parts_are_not_ordered_by_class(digits):
    assert not np.all(np.diff(digits.y_train) >= 0)


def test_same_seed_same_split():
    first, second = load_dataset(seed=7), load_dataset(seed=7)
    for (x1, y1), (x2, y2) in zip(_parts(first), _parts(second)):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_different_seed_different_split():
    first, second = load_dataset(seed=1), load_dataset(seed=2)
    assert not np.array_equal(first.y_train, second.y_train)
    assert _row_hashes(first.x_test) != _row_hashes(second.x_test)


def test_fractions_change_sizes():
    data = load_dataset(validation_fraction=0.1, test_fraction=0.3)
    assert 170 <= len(data.y_val) <= 190
    assert 530 <= len(data.y_test) <= 550


def test_digits_split_is_the_one_before_tasks():
    """Seed 3 cuts the digits as the plain stratified split always has."""
    resource = importlib.resources.files("keras_nas.data") / "digits.npz"
    with resource.open("rb") as f, np.load(f) as raw:
        x, y = raw["x"].astype("float32")[..., None] / 16.0, raw["y"]
    train, val, test = stratified_indices(y, seed=3)
    # The first indices of the split as computed before tasks were wired in.
    assert train[:6].tolist() == [1239, 467, 681, 838, 1543, 609]
    assert val[:4].tolist() == [1143, 925, 775, 1415]
    assert test[:4].tolist() == [765, 60, 1783, 823]
    data = load_dataset(seed=3)
    for (part_x, part_y), indices in zip(_parts(data), (train, val, test)):
        np.testing.assert_array_equal(part_x, x[indices])
        np.testing.assert_array_equal(part_y, y[indices])


def test_digits_task_is_detected_multiclass(digits):
    assert isinstance(digits.task, tasks.Multiclass)
    assert digits.task.class_names == list(range(10))
    assert digits.task_reason == "int labels with 10 classes: multiclass"


def test_repr_leaves_out_arrays(digits):
    assert repr(digits) == (
        "DatasetSplits(name='digits', num_classes=10, input_shape=(8, 8, 1), "
        "modality='image')"
    )


# .npz files.


def test_npz_images_get_a_channel_and_uint8_stays_for_the_model_to_scale(tmp_path):
    x = np.full((40, 5, 6), 255, dtype="uint8")
    y = np.arange(40) % 2
    path = _write_npz(tmp_path / "images.npz", x=x, y=y, other=np.zeros(3))
    data = load_dataset(str(path))
    assert data.name == "images"
    assert data.input_shape == (5, 6, 1)
    assert data.num_classes == 2
    assert data.modality == "image"
    assert data.x_train.dtype == np.uint8  # Four times smaller than float32.
    assert data.x_train.max() == 255


def test_npz_tabular_stays_2d_and_disjoint(tmp_path):
    x = _unique_rows(60, 3)
    y = (np.arange(60) % 3).reshape(-1, 1)
    data = load_dataset(_write_npz(tmp_path / "table.npz", x=x, y=y), seed=5)
    assert data.input_shape == (3,)
    assert data.x_train.dtype == np.float32
    train, val, test = (_row_hashes(x) for x, _ in _parts(data))
    assert not train & val and not val & test and not train & test
    assert train | val | test == _row_hashes(x.astype("float32"))
    for part_x, part_y in _parts(data):
        np.testing.assert_array_equal(part_y, part_x[:, 0] // 3 % 3)


def test_npz_float_features_are_not_rescaled(tmp_path):
    x = np.full((20, 2), 300.0)
    path = _write_npz(tmp_path / "raw.npz", x=x, y=np.arange(20) % 2)
    assert load_dataset(path).x_train.max() == 300.0


def test_npz_gap_in_labels_counts_classes_up_to_the_largest(tmp_path):
    path = _write_npz(
        tmp_path / "gap.npz", x=_unique_rows(20, 2), y=np.array([0, 4] * 10)
    )
    assert load_dataset(path, task="multiclass").num_classes == 5
    detected = load_dataset(path)  # Two distinct values: binary, 0 and 4.
    assert detected.task.class_names == [0, 4] and detected.num_classes == 2


def test_npz_missing_keys(tmp_path):
    path = _write_npz(tmp_path / "bad.npz", images=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(DatasetError, match=r"bad\.npz.*`x` and `y`.*'images'"):
        load_dataset(str(path))


def test_npz_length_mismatch(tmp_path):
    path = _write_npz(tmp_path / "bad.npz", x=np.zeros((4, 2)), y=np.zeros(5))
    with pytest.raises(DatasetError, match="4 samples but 5 labels"):
        load_dataset(path)


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("not an archive")
    with pytest.raises(DatasetError, match="is not an .npz archive"):
        load_dataset(path)


def test_negative_integer_labels_are_classes_in_sorted_order(tmp_path):
    y = np.array([-1, 0, 1] * 10)
    data = load_dataset(_write_npz(tmp_path / "l.npz", x=_unique_rows(30, 2), y=y))
    assert data.task.class_names == [-1, 0, 1]
    for part_x, part_y in _parts(data):
        np.testing.assert_array_equal(part_y, part_x[:, 0] // 2 % 3)


def test_nan_label_is_refused(tmp_path):
    y = np.array([0, np.nan, 1, 0.5] * 5)
    path = _write_npz(tmp_path / "l.npz", x=np.zeros((20, 2)), y=y)
    assert _refusal(path) == (
        f"Labels in {path} do not fit the regression task (float targets with "
        "3 distinct values: regression): 5 regression targets are NaN or "
        "infinite, in rows [1, 5, 9, 13, 17]."
    )


def test_bad_feature_shape(tmp_path):
    path = _write_npz(tmp_path / "flat.npz", x=np.zeros(4), y=np.zeros(4))
    with pytest.raises(DatasetError, match=r"Received shape: \(4,\)"):
        load_dataset(path)


def test_too_few_samples_of_a_class(tmp_path):
    y = np.array([0] * 10 + [1] * 2)
    path = _write_npz(tmp_path / "small.npz", x=_unique_rows(12, 2), y=y)
    with pytest.raises(DatasetError, match=r"Class 1 has too few samples \(2\)"):
        load_dataset(path)


# Tasks: detected or given, labels encoded for training.


def _npz(tmp_path, y, x=None, name="data.npz"):
    x = _unique_rows(len(y), 2) if x is None else x
    return _write_npz(tmp_path / name, x=x, y=np.asarray(y))


def test_regression_targets_are_split_at_random(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.normal(10.0, 3.0, size=200)
    data = load_dataset(_npz(tmp_path, y), seed=4)
    assert isinstance(data.task, tasks.Regression) and data.num_classes is None
    assert data.task_reason == "float targets with 200 distinct values: regression"
    assert data.summary() == (
        "data: 120 train / 40 val / 40 test, input (2,), regression, 1 target"
    )
    for part_x, part_y in _parts(data):
        assert part_y.dtype == np.float32 and part_y.shape == (len(part_x), 1)
        samples = (part_x[:, 0] // 2).astype(int)
        np.testing.assert_array_equal(part_y[:, 0], y[samples].astype("float32"))


def test_regression_statistics_come_from_the_training_targets(tmp_path):
    y = np.arange(100, dtype="float64") ** 2
    data = load_dataset(_npz(tmp_path, y))
    np.testing.assert_allclose(data.task.target_mean, [data.y_train.mean()], rtol=1e-6)
    np.testing.assert_allclose(data.task.target_std, [data.y_train.std()], rtol=1e-5)
    assert data.task.target_mean != pytest.approx([y.mean()])


def test_several_target_columns_are_regression(tmp_path):
    y = np.stack([np.linspace(0, 1, 30), np.linspace(5, -5, 30)], axis=1)
    data = load_dataset(_npz(tmp_path, y))
    assert data.task_reason == "2 numeric target columns: regression"
    assert data.y_train.shape == (18, 2) and data.task.targets == 2
    assert data.summary().endswith("input (2,), regression, 2 targets")


def test_integers_with_many_values_are_regression_not_classes(tmp_path):
    y = np.arange(300) % 150  # Each value twice: too few to stratify.
    data = load_dataset(_npz(tmp_path, y))
    assert data.task.name == "regression" and data.y_train.dtype == np.float32


def test_string_labels_become_sorted_class_indices(tmp_path):
    names = np.array(["zebra", "ant", "moth"])
    y = names[np.arange(30) % 3]
    data = load_dataset(_npz(tmp_path, y))
    assert data.task.class_names == ["ant", "moth", "zebra"]
    assert data.task_reason == "text labels with 3 classes: multiclass"
    assert data.summary().endswith("input (2,), 3 classes")
    for part_x, part_y in _parts(data):
        assert part_y.dtype == np.int32
        samples = (part_x[:, 0] // 2).astype(int)
        np.testing.assert_array_equal(part_y, np.array([2, 0, 1])[samples % 3])
        assert set(part_y.tolist()) == {0, 1, 2}


def test_boolean_labels_are_binary(tmp_path):
    y = np.arange(20) % 2 == 1
    data = load_dataset(_npz(tmp_path, y))
    assert data.task.name == "binary" and data.num_classes == 2
    assert data.task_reason == "bool labels with 2 distinct values: binary"
    assert data.summary().endswith("binary (False / True)")
    for part_x, part_y in _parts(data):
        assert part_y.dtype == np.float32 and part_y.shape == (len(part_x), 1)
        np.testing.assert_array_equal(part_y[:, 0], part_x[:, 0] // 2 % 2)


def test_one_hot_labels_become_class_indices(tmp_path):
    y = np.eye(3, dtype="float32")[np.arange(30) % 3]
    data = load_dataset(_npz(tmp_path, y))
    assert data.task_reason == "one-hot labels with 3 columns: multiclass"
    assert data.num_classes == 3 and data.y_train.dtype == np.int32
    for part_x, part_y in _parts(data):
        np.testing.assert_array_equal(part_y, part_x[:, 0] // 2 % 3)


def test_task_given_by_name_or_as_a_task(tmp_path):
    path = _npz(tmp_path, np.arange(20) % 2)
    by_name = load_dataset(path, task="multiclass")
    assert by_name.task_reason == "task='multiclass' as given"
    assert by_name.y_train.dtype == np.int32 and by_name.y_train.ndim == 1
    given = load_dataset(path, task=tasks.Binary(class_names=[1, 0]))
    assert given.task.class_names == [1, 0]  # A fitted task is kept as it is.
    np.testing.assert_array_equal(given.y_train[:, 0], 1 - given.x_train[:, 0] // 2 % 2)
    as_regression = load_dataset(path, task="regression")
    assert as_regression.y_train.dtype == np.float32
    assert as_regression.num_classes is None


def test_same_seed_same_split_for_regression(tmp_path):
    path = _npz(tmp_path, np.linspace(0, 1, 50))
    first, second = load_dataset(path, seed=2), load_dataset(path, seed=2)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert not np.array_equal(first.y_test, load_dataset(path, seed=3).y_test)


@pytest.mark.parametrize(
    "y, task, message",
    [
        (
            np.array(["cat", "dog", "cow"] * 4),
            "regression",
            "Received an invalid value for `task`: the regression task needs "
            "numeric targets, and these are of dtype <U3 (such as ['cat', "
            "'dog', 'cow', ...]); pass task='multiclass' or 'binary' for class "
            "labels. The labels in {path} are detected as text labels with 3 "
            "classes: multiclass. Received: task='regression'",
        ),
        (
            np.arange(12) % 3,
            "binary",
            "Received an invalid value for `task`: 'binary' needs labels with "
            "exactly two distinct values, and these have 3: [0, 1, 2]. The "
            "labels in {path} are detected as int labels with 3 classes: "
            "multiclass. Received: task='binary'",
        ),
        (
            np.linspace(0, 1, 12),
            "multiclass",
            "Received an invalid value for `task`: the multiclass task needs "
            "class labels, and floats that are not whole numbers are not (10 "
            "of them, such as 0.09090909090909091); pass task='regression' for "
            "numeric targets. The labels in {path} are detected as float "
            "targets with 12 distinct values: regression. Received: "
            "task='multiclass'",
        ),
    ],
)
def test_wrong_task_for_the_labels_is_one_line(tmp_path, y, task, message):
    path = _npz(tmp_path, y)
    assert _refusal(path, task=task) == message.format(path=path)


def test_unknown_task_name(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
        "Received an invalid value for `task`, expected one of ['binary', "
        "'multiclass', 'regression']. Received: task='ranking'"
    )):
        load_dataset("digits", task="ranking")


def test_too_few_samples_of_a_named_class(tmp_path):
    y = np.array(["big"] * 10 + ["small"] * 2)
    with pytest.raises(DatasetError, match=r"^Class 'small' has too few samples \(2\)"):
        load_dataset(_npz(tmp_path, y))


def test_too_few_regression_targets(tmp_path):
    with pytest.raises(DatasetError, match="^2 samples are too few to split"):
        load_dataset(_npz(tmp_path, [0.5, 1.5]))


def test_split_dataset_names_arrays_in_its_messages():
    data = split_dataset("toy", _unique_rows(20, 3), np.array(["a", "b"] * 10), seed=1)
    assert data.summary() == (
        "toy: 12 train / 4 val / 4 test, input (3,), binary ('a' / 'b')"
    )
    with pytest.raises(DatasetError, match="^Labels in toy do not fit"):
        split_dataset("toy", _unique_rows(4, 1), np.array([0.5, np.inf, 1, 2]))


# Features that are not finite.


def test_nan_and_infinite_features_are_refused(tmp_path):
    x = _unique_rows(20, 3)
    x[4, 2], x[17, 2], x[17, 0] = np.nan, np.inf, -np.inf
    path = _npz(tmp_path, np.arange(20) % 2, x=x)
    assert _refusal(path) == (
        f"Features in {path} hold 3 NaN or infinite values, first at rows "
        "[4, 17, 17] columns [2, 0, 2] (0-based sample and feature indices); "
        "fill or drop them before loading."
    )


@pytest.mark.parametrize("value", [1e20, -3e38, 1e300])
def test_features_whose_scaling_overflows_float32_are_refused(tmp_path, value):
    x = _unique_rows(20, 2)
    x[3, 1] = x[9, 0] = value
    path = _npz(tmp_path, np.arange(20) % 2, x=x)
    assert _refusal(path) == (
        f"Features in {path} hold 2 values of magnitude above 1.84e+19 (the "
        "square root of the largest float32), first at rows [3, 9] columns "
        "[1, 0] (0-based sample and feature indices): their variance overflows "
        "float32 when the model scales its inputs; rescale them (other units, "
        "a logarithm) before loading."
    )


def test_features_up_to_the_magnitude_bound_are_kept(tmp_path):
    x = _unique_rows(20, 2)
    x[3, 1] = -1e19
    data = load_dataset(_npz(tmp_path, np.arange(20) % 2, x=x))
    features = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert features.min() == np.float32(-1e19)
    # The variance the model's normalisation divides by is a finite float32.
    assert np.isfinite(features.astype("float64").var(axis=0).astype("float32")).all()


def test_nan_in_images_names_positions(tmp_path):
    x = np.zeros((20, 4, 4))
    x[2, 1, 3] = np.nan
    with pytest.raises(DatasetError, match=r"rows \[2\] positions \[\(1, 3\)\]"):
        load_dataset(_npz(tmp_path, np.arange(20) % 2, x=x))


# .csv files.


def test_csv_label_column_by_name(tmp_path):
    rows = "\n".join(f"{i % 2},{i},{i * 2}" for i in range(20))
    path = tmp_path / "named.csv"
    path.write_text("label,a,b\n" + rows + "\n")
    data = load_dataset(path)
    assert data.name == "named"
    assert data.input_shape == (2,)
    assert data.num_classes == 2
    np.testing.assert_array_equal(data.x_train[:, 1], 2 * data.x_train[:, 0])
    assert data.task.name == "binary" and data.y_train.shape == (12, 1)
    np.testing.assert_array_equal(data.y_train[:, 0], data.x_train[:, 0] % 2)


def test_csv_last_column_is_label_without_a_label_header(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},{i % 3}" for i in range(30))
    path = tmp_path / "last.csv"
    path.write_text("a,b,target\n" + rows + "\n")
    data = load_dataset(str(path))
    assert data.x_train.dtype == np.float32 and data.input_shape == (2,)
    np.testing.assert_array_equal(data.y_train, data.x_train[:, 0] % 3)


def test_csv_non_numeric_feature_names_row_and_column(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("a,b,label\n1,2,cat\n3,four,dog\n")
    assert _refusal(path) == (
        f"Dataset file {path} holds 'four' in feature column 'b', data row 2 "
        "(line 3): feature cells must be numbers; only the label column may "
        "hold text."
    )


def test_csv_header_only(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("a,label\n")
    with pytest.raises(DatasetError, match="0 rows"):
        load_dataset(path)


def test_csv_text_labels_are_classes(tmp_path):
    rows = [f"{i},{i * 2},{['no', 'yes'][i % 2]}" for i in range(20)]
    data = load_dataset(_write_csv(tmp_path / "text.csv", "a,b,answer", rows))
    assert data.task.class_names == ["no", "yes"]
    np.testing.assert_array_equal(data.y_train[:, 0], data.x_train[:, 0] % 2)


def test_csv_text_labels_with_regression_is_one_line(tmp_path):
    rows = [f"{i},{['low', 'high'][i % 2]}" for i in range(20)]
    path = _write_csv(tmp_path / "text.csv", "a,label", rows)
    message = _refusal(path, task="regression")
    assert message.endswith("Received: task='regression'")
    assert "needs numeric targets" in message and str(path) in message


def test_csv_float_labels_are_regression(tmp_path):
    rows = [f"{i},{i / 7:.4f}" for i in range(40)]
    data = load_dataset(_write_csv(tmp_path / "float.csv", "a,y", rows))
    assert data.task.name == "regression"
    np.testing.assert_allclose(data.y_train[:, 0], data.x_train[:, 0] / 7, atol=1e-4)


def test_csv_quoted_cells_spaces_and_blank_lines(tmp_path):
    rows = [f'{i}, "{i + 1}" ,"class {i % 2}"' for i in range(20)]
    data = load_dataset(_write_csv(tmp_path / "q.csv", "a,b,label", rows, "\n"))
    assert data.task.class_names == ["class 0", "class 1"]
    np.testing.assert_array_equal(data.x_train[:, 1], data.x_train[:, 0] + 1)


@pytest.mark.parametrize(
    "rows, message",
    [
        (["1,2,0", "1,0"], "3 header columns but 2 data columns on line 3"),
        (["1,2,x", "2,3,"], r"no label in column 'label', data row 2 \(line 3\)"),
    ],
)
def test_csv_ragged_row_or_empty_label(tmp_path, rows, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(_write_csv(tmp_path / "bad.csv", "a,b,label", rows))


# Specs, files and fractions.


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.npz"
    message = re.escape(f"Dataset file not found: {path}")
    with pytest.raises(DatasetError, match=f"^{message}$"):
        load_dataset(str(path))


@pytest.mark.parametrize("spec", ["mnist", "tfds:", "data.txt", 3])
def test_unknown_spec(spec):
    with pytest.raises(DatasetError, match="Unknown dataset spec.*'tfds:NAME'"):
        load_dataset(spec)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"validation_fraction": 1.5},
            "Received an invalid value for `validation_fraction`, expected a "
            "float in (0, 1). Received: validation_fraction=1.5",
        ),
        (
            {"test_fraction": 0},
            "Received an invalid value for `test_fraction`, expected a float in "
            "(0, 1). Received: test_fraction=0",
        ),
        (
            {"validation_fraction": 0.5, "test_fraction": 0.5},
            "expected their sum to be below 1. Received: "
            "validation_fraction=0.5, test_fraction=0.5",
        ),
    ],
)
def test_bad_fractions(kwargs, message):
    with pytest.raises(ValueError) as info:
        load_dataset("digits", **kwargs)
    assert message in str(info.value)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


# TensorFlow Datasets, mocked: no network and no data directory.


def test_tfds_mnist_mocked():
    with tfds.testing.mock_data(num_examples=100):
        data = load_dataset("tfds:mnist", seed=1)
    assert data.name == "tfds:mnist"
    assert data.input_shape == (28, 28, 1)
    assert data.num_classes == 10
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int32
    assert sum(len(y) for _, y in _parts(data)) == 100


def test_tfds_split_string_is_passed_on(monkeypatch):
    seen = {}
    real_load = tfds.load

    def load(name, **kwargs):
        seen.update(kwargs, name=name)
        return real_load(name, **kwargs)

    monkeypatch.setattr(tfds, "load", load)
    with tfds.testing.mock_data(num_examples=100):
        data = load_dataset("tfds:cifar10:train[:10%]")
    assert seen["name"] == "cifar10" and seen["split"] == "train[:10%]"
    assert seen["as_supervised"] is True
    assert seen["download"] is False  # Read locally first; see the offline tests.
    assert data.input_shape == (32, 32, 3)


def test_tfds_unavailable_dataset_is_one_line():
    with pytest.raises(DatasetError, match="Could not load tfds dataset") as info:
        load_dataset("tfds:no_such_dataset_here")
    assert "not found" in str(info.value) and "\n" not in str(info.value)


# TensorFlow Datasets offline: the network is patched away, so nothing can
# reach it, and tfds' downloader must never run.

_PREPARE = tfds.core.DatasetBuilder.download_and_prepare


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, no GCS, no tfds download, an empty TFDS_DATA_DIR.

    Returns:
        `(data_dir, attempts)`: the TFDS_DATA_DIR folder (not created) and
        the list of network calls tried, which all fail.
    """
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    def no_download(self, *args, **kwargs):
        pytest.fail("tfds tried to download")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(tfds.core.utils.gcs_utils, "_is_gcs_disabled", True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    data_dir = tmp_path / "tfds_data"
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    return data_dir, attempts


def test_tfds_offline_fails_fast_in_one_line(offline):
    data_dir, attempts = offline
    start = time.monotonic()
    message = _refusal("tfds:mnist")
    assert time.monotonic() - start < 30
    assert message == (
        f"tfds dataset 'mnist' is neither in the local TFDS data folder "
        f"{data_dir} (no mnist/3.0.1 there) nor downloadable "
        "(storage.googleapis.com:443 cannot be reached). Prepare it on a "
        "machine with network access (`tfds build mnist`) and copy its folder "
        f"mnist/ into {data_dir}, or set TFDS_DATA_DIR to a folder that holds it."
    )
    assert attempts  # The probe ran, against the patched socket.
    assert not data_dir.exists()  # Nothing was written.


class TinyImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """20 generated 4x4 images in 2 classes: a dataset prepared offline."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=(4, 4), dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=2),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(20):
            yield i, {"image": np.full((4, 4), i, dtype=np.uint8), "label": i % 2}


def test_tfds_prepared_locally_is_read_without_the_network(offline):
    data_dir, attempts = offline
    _PREPARE(TinyImages(data_dir=str(data_dir)))  # Generated, not downloaded.
    data = load_dataset("tfds:tiny_images")
    assert sum(len(y) for _, y in _parts(data)) == 20
    assert data.task.name == "binary" and data.input_shape == (4, 4, 1)
    for part_x, part_y in _parts(data):
        np.testing.assert_array_equal(part_y[:, 0], part_x[:, 0, 0, 0] % 2)
    assert attempts == []  # Read from TFDS_DATA_DIR: no probe, no download.


def test_tfds_downloads_when_the_host_answers(monkeypatch):
    calls = []
    real_load = tfds.load

    def load(name, **kwargs):
        calls.append(kwargs.get("download", True))
        if kwargs.get("download", True) is False:
            return real_load(name, **kwargs)  # Not prepared: tfds refuses.
        images = np.zeros((20, 28, 28, 1), dtype="uint8")
        return tf.data.Dataset.from_tensor_slices((images, np.arange(20) % 2))

    monkeypatch.setenv("TFDS_DATA_DIR", "/nonexistent/tfds_data_dir")
    monkeypatch.setattr(tfds, "load", load)
    monkeypatch.setattr(loaders, "_can_reach", lambda address: True)
    data = load_dataset("tfds:mnist")
    assert calls == [False, True]
    assert data.task.name == "binary" and data.input_shape == (28, 28, 1)


def test_can_reach_gives_up_after_its_timeout(monkeypatch):
    def hang(*args, **kwargs):  # As name resolution without an answer.
        time.sleep(5)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert loaders._can_reach(("unreachable.invalid", 443), timeout=0.2) is False
    assert time.monotonic() - start < 2


def test_can_reach_a_listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert loaders._can_reach(server.getsockname(), timeout=5)


def test_download_address_is_the_proxy_when_one_is_set(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert loaders._download_address() == ("proxy.internal", 3128)
    monkeypatch.delenv("https_proxy")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    assert loaders._download_address() == ("storage.googleapis.com", 443)

"""Train/validation/test splits: the `DatasetSplits` record and the cuts.

A data set's raw labels are turned into a task's training labels here:
classification labels are stratified by class, regression targets cut at
random (`split_dataset`).
"""

import dataclasses
import hashlib
import re

import numpy as np

from keras_nas import tasks
from keras_nas.disk_arrays import on_disk
from keras_nas.disk_arrays import take_rows
from keras_nas.split_indices import DatasetError


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A dataset cut into disjoint train, validation and test parts.

    Images are float32 arrays of shape `(N, H, W, C)`, tabular features
    float32 arrays of shape `(N, F)`. Labels are those the task trains on
    (`task.encode`): int32 class indices in `0..num_classes - 1` for
    `multiclass`, float32 0/1 of shape `(N, 1)` for `binary` (1 is
    `task.class_names[1]`), float32 of shape `(N, targets)` for
    `regression`. They may be given to `NASTuner.search` and `export` as
    they are, with `task` as the space's task (`task.encode` keeps them).

    Attributes:
        name: Short name of the dataset, used in summaries.
        x_train: Training features.
        y_train: Training labels.
        x_val: Validation features.
        y_val: Validation labels.
        x_test: Test features.
        y_test: Test labels.
        num_classes: Number of classes of the task; `None` for regression.
        input_shape: Shape of one sample, without the batch dimension.
        task: The fitted `keras_nas.tasks.Task`: classes from all labels,
            regression statistics from the training targets only.
        task_reason: Why this task, e.g. `"float targets with 214 distinct
            values: regression"` or `"task='binary' as given"`.
        modality: What the features are, one of
            `keras_nas.data.MODALITIES`.
        modality_reason: Why, e.g. `"strings: text"`.
        details: What else the loader knows: `sample_rate` of audio,
            `files` of each split of a folder (paths relative to it),
            `skipped` files with their reasons, `root` of a folder.

    Example:

    ```python
    data = keras_nas.data.load_dataset("digits")
    model = ...  # ending in data.task.head(features)
    data.task.compile(model, "adam")
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val))
    ```
    """

    name: str
    x_train: np.ndarray = dataclasses.field(repr=False)
    y_train: np.ndarray = dataclasses.field(repr=False)
    x_val: np.ndarray = dataclasses.field(repr=False)
    y_val: np.ndarray = dataclasses.field(repr=False)
    x_test: np.ndarray = dataclasses.field(repr=False)
    y_test: np.ndarray = dataclasses.field(repr=False)
    num_classes: int
    input_shape: tuple
    task: tasks.Task = dataclasses.field(repr=False)
    task_reason: str = dataclasses.field(repr=False)
    modality: str = "tabular"
    modality_reason: str = dataclasses.field(default="", repr=False)
    details: dict = dataclasses.field(default_factory=dict, repr=False)

    def summary(self):
        """Returns a one-line description of the splits.

        Returns:
            A string such as `"digits: 1,078 train / 360 val / 359 test,
            input (8, 8, 1), 10 classes"` or `"diabetes: 265 train / 88 val
            / 89 test, input (10,), regression, 1 target"`.
        """
        return (
            f"{self.name}: {len(self.y_train):,} train / {len(self.y_val):,} val"
            f" / {len(self.y_test):,} test, input {self.input_shape},"
            f" {self.task.summary()}"
        )


def split_dataset(
    name, x, y, *, task=None, seed=0, validation_fraction=0.2,
    test_fraction=0.2, source=None, modality="tabular", modality_reason="",
    details=None,
):
    """Fits a task to raw labels and cuts features and labels by it.

    A classification task is fitted on all labels, so every part's labels
    are known classes, and the cut is stratified by class; regression
    targets are cut at random and the task fitted on the training targets
    only (their mean and standard deviation). The parts hold the encoded
    labels (`task.encode`).

    Args:
        name: Short name of the dataset.
        x: Features, one row per sample.
        y: Raw labels or targets, one entry per sample, in any form
            `keras_nas.tasks` takes (integers, floats, strings, Booleans,
            one-hot rows, several target columns).
        task: `None` to detect the task from the labels
            (`keras_nas.tasks.detect_task`), a task name (`"multiclass"`,
            `"binary"`, `"regression"`), a config dict or a `Task`.
        seed: Seed of the random generator.
        validation_fraction: Fraction held out for validation (of each
            class for classification).
        test_fraction: Fraction held out for test (of each class for
            classification).
        source: How error messages name the data, e.g. a file path;
            defaults to `name`.
        modality: The features' modality, and `modality_reason` why.
        modality_reason: Why the features are of `modality`.
        details: The loader's other facts (see `DatasetSplits.details`).

    Returns:
        A `DatasetSplits`.

    Raises:
        ValueError: If the fractions or the task name are invalid.
        DatasetError: If the labels do not fit the task, or a class (or the
            whole set, for regression) has too few samples to split.

    Example:

    ```python
    data = split_dataset("toy", x, np.array(["cat", "dog"] * 10), seed=1)
    print(data.summary())
    # toy: 12 train / 4 val / 4 test, input (3,), binary ('cat' / 'dog')
    ```
    """
    source = source or name
    given = task is not None
    if given:
        task = tasks.get_task(task)
        reason = f"task={task.name!r} as given"
    else:
        try:
            task, reason = tasks.detect_task(y)
        except tasks.TaskError as err:
            raise DatasetError(
                f"Labels in {source} fit no task: {_detail(err)}"
            ) from err
    try:
        if task.is_classification:
            task = task.fit(y)
        labels = task.encode(y, "y")
    except tasks.TaskError as err:
        raise _label_error(err, y, task, reason, source, given) from err
    train, val, test = task.split_indices(
        labels, seed=seed, validation_fraction=validation_fraction,
        test_fraction=test_fraction,
    )
    if not task.is_classification:
        task = task.fit(labels[train])
    return DatasetSplits(
        name=name,
        x_train=_rows(x, train, "train"),
        y_train=labels[train],
        x_val=_rows(x, val, "val"),
        y_val=labels[val],
        x_test=_rows(x, test, "test"),
        y_test=labels[test],
        num_classes=task.num_classes if task.is_classification else None,
        input_shape=tuple(x.shape[1:]),
        task=task,
        task_reason=reason,
        modality=modality,
        modality_reason=modality_reason,
        details=dict(details or {}),
    )


def _detail(err):
    """A task error's message without its `Received an invalid value for ...:`."""
    return re.sub(r"^Received an invalid value for `\w+`: ", "", str(err))


def _label_error(err, y, task, reason, source, given):
    """The `DatasetError` for labels a task refused, in one line.

    A task given by name that the labels would not have been detected as is
    a wrong choice of `task`; otherwise the labels themselves are at fault.
    """
    if given:
        try:
            detected, detected_reason = tasks.detect_task(y)
        except tasks.TaskError:
            detected, detected_reason = None, "none of the tasks"
        if detected is None or detected.name != task.name:
            detail = re.sub(r" Received: task=\S+$", "", _detail(err))
            return DatasetError(
                f"Received an invalid value for `task`: {detail} The labels in "
                f"{source} are detected as {detected_reason}. Received: "
                f"task={task.name!r}"
            )
    return DatasetError(
        f"Labels in {source} do not fit the {task.name} task ({reason}): "
        f"{_detail(err)}"
    )


def _rows(x, indices, split):
    """The rows of one split; of a file-backed `x`, a file beside it named
    by the split's indices (`keras_nas.disk_arrays.take_rows`)."""
    if not on_disk(x):
        return x[indices]
    digest = hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()[:16]
    return take_rows(x, indices, f"{x.filename[:-len('.npy')]}-{split}-{digest}.npy")

"""Tasks: what a model predicts, and so its head, loss, metrics and labels.

A task owns everything that depends on the kind of target:

| task | head | loss | metrics | labels for training |
| --- | --- | --- | --- | --- |
| `multiclass` | `num_classes` softmax units | sparse categorical cross-entropy | `accuracy`, macro `precision`, `recall`, `f1` | int32 class indices |
| `binary` | one sigmoid unit | binary cross-entropy | `accuracy`, macro `precision`, `recall`, `f1`, ROC `auc` | float32 0/1, shape `(n, 1)` |
| `regression` | one linear unit per target, then the targets' mean and standard deviation put back | mean squared error | `mae`, `rmse`, `r2` | float32, shape `(n, targets)` |

Class labels may be integers, strings, Booleans or one-hot rows: `fit`
records the classes in sorted order (`class_names`) and `encode` maps labels
to their indices; it keeps labels it has encoded, so data encoded once (as
`keras_nas.data.DatasetSplits` holds it) may be encoded again.
Regression targets are standardised for training: the head's linear units
learn `(y - mean) / std` of the training targets and a fixed
`keras.layers.Normalization(invert=True)` returns predictions in the
original units, so a served model needs no post-processing and the loss and
metrics are reported in the original units.

Example:

```python
task, reason = detect_task(y)          # e.g. "float targets with 214 distinct values: regression"
task = task.fit(y_train)               # classes or target statistics
model.compile("adam", loss=task.loss(), metrics=task.make_metrics())
model.fit(x_train, task.encode(y_train))
```
"""

import keras
import keras_tuner as kt
import numpy as np

from keras_nas import validation
from keras_nas.objectives import costs
from keras_nas.objectives.classification import macro_metrics
from keras_nas.split_indices import random_indices
from keras_nas.split_indices import stratified_indices

TASKS = ("multiclass", "binary", "regression")
"""The task names, as `task=` and `--task` take them."""

MAX_DETECTED_CLASSES = 100
"""Integer labels with more distinct values than this are detected as regression."""

MAX_DETECTED_FLOAT_CLASSES = 20
"""Whole-number float labels with more distinct values are detected as regression."""


class TaskError(ValueError):
    """Labels that do not fit the chosen task."""


def _scalar(value):
    """A NumPy scalar as a JSON-safe Python value."""
    return value.item() if hasattr(value, "item") else value


def _label_kind(y):
    """`"text"`, `"bool"`, `"int"`, `"float"` or `"other"` for a label array."""
    kind = y.dtype.kind
    if kind in "US" or (kind == "O" and all(isinstance(v, str) for v in y.flat)):
        return "text"
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    return "other"


def _is_one_hot(y):
    return (
        y.ndim == 2
        and y.shape[1] >= 2
        and y.dtype.kind in "biuf"
        and bool(np.isin(y, (0, 1)).all())
        and bool((y.sum(axis=1) == 1).all())
    )


def _as_array(name, y):
    y = np.asarray(y)
    if y.ndim == 0 or len(y) == 0:
        raise TaskError(
            f"Received an invalid value for `{name}`, expected a non-empty "
            f"array of labels. Received: {name} of shape {y.shape}"
        )
    return y


def _column(y):
    """Labels as a 1-D array: `(n, 1)` is squeezed, one-hot rows become indices."""
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if _is_one_hot(y):
        return np.argmax(y, axis=1)
    return y


def _shown(values, limit=5):
    values = [_scalar(v) for v in values]
    text = ", ".join(repr(v) for v in values[:limit])
    return f"[{text}{', ...' if len(values) > limit else ''}]"


class Task:
    """What a model predicts: the base of `Multiclass`, `Binary` and `Regression`.

    Attributes:
        name: `"multiclass"`, `"binary"` or `"regression"`.
        default_objective: The metric a search optimises unless told
            otherwise.
    """

    name = None
    default_objective = "val_loss"
    metric_names = ()
    """Names of the metrics `make_metrics` reports, besides `loss`."""
    maximised = ()
    """Metric names that are better when larger."""

    @property
    def is_classification(self):
        return False

    @property
    def fitted(self):
        """Whether `fit` has recorded the classes or target statistics."""
        raise NotImplementedError

    def fit(self, y):
        """Returns this task with the classes or target statistics of `y`."""
        raise NotImplementedError

    def encode(self, y, name="y"):
        """Turns labels into the numeric array the model trains on.

        Idempotent: labels this task has encoded come back unchanged (for
        classification, labels that are all class names are mapped, labels
        that are all class indices kept).

        Args:
            y: Labels, in any form `fit` accepts.
            name: The argument's name, for error messages.

        Raises:
            TaskError: If a label does not fit the task.
        """
        raise NotImplementedError

    def head(self, features):
        """The output layer(s) applied to the network's last features."""
        raise NotImplementedError

    def loss(self):
        """The Keras loss for `compile`."""
        raise NotImplementedError

    def loss_fn(self, y_true, y_pred):
        """Per-sample loss tensor, for training loops of their own (DARTS)."""
        raise NotImplementedError

    def make_metrics(self, prefix=""):
        """New Keras metric objects, named `prefix` + each of `metric_names`."""
        raise NotImplementedError

    def compile(self, model, optimizer):
        """Compiles `model` with this task's loss and metrics."""
        model.compile(optimizer=optimizer, loss=self.loss(), metrics=self.make_metrics())

    def objective_names(self):
        """Every metric a trial of this task reports, as an objective name.

        The validation and training figures of `loss` and `metric_names`,
        then the costs of `keras_nas.objectives.costs.COSTS`.
        """
        names = ["loss", *self.metric_names]
        return [f"val_{n}" for n in names] + names + list(costs.COSTS)

    def objective(self, objective=None):
        """The `keras_tuner.Objective` of a metric name this task reports.

        Args:
            objective: A metric name, a `keras_tuner.Objective`, or `None`
                for `default_objective`.

        Raises:
            ValueError: If the task does not report that metric.
        """
        if isinstance(objective, kt.Objective):
            name = objective.name
        else:
            name = self.default_objective if objective is None else objective
        allowed = self.objective_names()
        if name not in allowed:
            raise ValueError(
                f"Received an invalid value for `objective`: the {self.name} "
                f"task reports {', '.join(allowed)}. Received: objective={name!r}"
            )
        if isinstance(objective, kt.Objective):
            return objective
        if name in costs.COSTS:
            return kt.Objective(name, costs.COSTS[name])
        base = name[4:] if name.startswith("val_") else name
        return kt.Objective(name, "max" if base in self.maximised else "min")

    def split_indices(self, y, *, seed, validation_fraction, test_fraction):
        """Train, validation and test indices: stratified for classes, else random."""
        return random_indices(
            len(y), seed=seed, validation_fraction=validation_fraction,
            test_fraction=test_fraction,
        )

    def summary(self):
        """A few words for dataset summaries, e.g. `"10 classes"`."""
        raise NotImplementedError

    def get_config(self):
        """The task's settings and fitted values, JSON-safe."""
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()!r})"


class _ClassificationTask(Task):
    """Shared label handling of `Multiclass` and `Binary`."""

    default_objective = "val_accuracy"
    metric_names = ("accuracy", "precision", "recall", "f1")
    maximised = ("accuracy", "precision", "recall", "f1")
    encoded_dtype = None
    """The dtype of the labels `encode` returns."""

    def __init__(self, class_names=None):
        self.class_names = None if class_names is None else [
            _scalar(c) for c in class_names
        ]

    @property
    def is_classification(self):
        return True

    @property
    def fitted(self):
        return self.class_names is not None

    @property
    def num_classes(self):
        raise NotImplementedError

    def split_indices(self, y, *, seed, validation_fraction, test_fraction):
        return stratified_indices(
            np.asarray(y).reshape(len(y), -1)[:, 0].astype("int64"),
            seed=seed, validation_fraction=validation_fraction,
            test_fraction=test_fraction, class_names=self.class_names,
        )

    def _classes_of(self, y, name):
        """The sorted classes of 1-D labels; non-negative integers keep 0..max."""
        kind = _label_kind(y)
        if kind == "other":
            raise TaskError(
                f"Received an invalid value for `{name}`: labels of dtype "
                f"{y.dtype} cannot be classes (use integers, strings or "
                f"Booleans). Received: {name}[:5]={_shown(y.flat)}"
            )
        if kind == "float":
            bad = ~np.isfinite(y) | (y != np.round(y))
            if bad.any():
                raise TaskError(
                    f"Received an invalid value for `{name}`: the {self.name} "
                    "task needs class labels, and floats that are not whole "
                    f"numbers are not ({int(bad.sum())} of them, such as "
                    f"{_scalar(y[bad][0])!r}); pass task='regression' for "
                    "numeric targets."
                )
            y = y.astype("int64")
        classes = np.unique(y)
        if kind in ("int", "float") and classes.min() >= 0 and self.name == "multiclass":
            return list(range(int(classes.max()) + 1))
        return [_scalar(c) for c in classes]

    def _indices(self, y, name):
        """Class indices of labels: class names mapped, class indices kept.

        This makes `encode` idempotent: the class indices it returns (which
        `DatasetSplits` holds) come back unchanged, so labels encoded by
        `keras_nas.data.load_dataset` can be given to `NASTuner.search`
        or `export` like raw labels. Labels that are all class names are
        mapped to their indices; otherwise labels that are all whole numbers
        in `[0, num_classes)` are indices already. When both readings fit and
        differ (numeric class names other than `0..K-1`, such as `[1, 2]`,
        and labels holding only `1`), one-hot rows and labels of `encode`'s
        own dtype (`encoded_dtype`) are indices, other labels class names.
        """
        raw = _as_array(name, y)
        y = _column(raw)
        if y.ndim != 1:
            raise TaskError(
                f"Received an invalid value for `{name}`: the {self.name} task "
                "takes one label per sample (or one-hot rows). Received: "
                f"{name}.shape={y.shape}"
            )
        if _label_kind(y) == "float":
            self._classes_of(y, name)  # refuses non-whole floats
            y = y.astype("int64")
        lookup = {c: i for i, c in enumerate(self.class_names)}
        by_name = [lookup.get(label) for label in y.tolist()]
        named = None not in by_name
        indexed = _label_kind(y) == "int" and bool(
            ((y >= 0) & (y < len(self.class_names))).all()
        )
        as_indices = _is_one_hot(raw) or raw.dtype == self.encoded_dtype
        if named and not (indexed and as_indices):
            return np.array(by_name, dtype="int32")
        if indexed:
            return y.astype("int32")
        unknown = [i for i, index in enumerate(by_name) if index is None]
        if _label_kind(y) == "int":  # Point at a label that is no index either.
            unknown = [i for i in unknown if not 0 <= y[i] < len(lookup)] or unknown
        label = _scalar(y[unknown[0]])
        indices = f" nor a class index in [0, {len(lookup)})" if (
            _label_kind(y) == "int" and self.class_names != list(range(len(lookup)))
        ) else ""
        raise TaskError(
            f"Received an invalid value for `{name}`: label {label!r} is not "
            f"one of the task's classes {_shown(self.class_names)}{indices}. "
            f"Received: {name}[{unknown[0]}]={label!r}"
        )

    def get_config(self):
        return {**super().get_config(), "class_names": self.class_names}


class Multiclass(_ClassificationTask):
    """One class out of several: a softmax head.

    Args:
        num_classes: Number of classes; `None` takes it from the labels
            given to `fit`.
        class_names: The classes in index order; `None` takes them from
            `fit`: non-negative integer labels keep their values as indices
            (classes `0..max`), any other labels are sorted.
    """

    name = "multiclass"
    encoded_dtype = np.dtype("int32")

    def __init__(self, num_classes=None, class_names=None):
        super().__init__(class_names)
        if num_classes is not None:
            validation.check_positive_int("num_classes", num_classes)
            if num_classes < 2:
                raise ValueError(
                    "Received an invalid value for `num_classes`, expected at "
                    f"least 2. Received: num_classes={num_classes!r}"
                )
        if self.class_names is not None:
            if num_classes is not None and num_classes != len(self.class_names):
                raise ValueError(
                    "Received an invalid value for `class_names`, expected "
                    f"{num_classes} names for num_classes={num_classes}. "
                    f"Received: class_names={self.class_names!r}"
                )
            num_classes = len(self.class_names)
        self._num_classes = num_classes

    @property
    def num_classes(self):
        return self._num_classes

    def fit(self, y):
        if self.fitted:
            return self
        y = _column(_as_array("y", y))
        classes = self._classes_of(y, "y")
        numeric = _label_kind(y) in ("int", "float")
        if self._num_classes is not None and numeric:
            labels = y.astype("int64")
            wrong = (labels < 0) | (labels >= self._num_classes)
            if wrong.any():
                raise TaskError(
                    "Received an invalid value for `y`: labels must be "
                    f"integers in [0, {self._num_classes}) for num_classes="
                    f"{self._num_classes}. Received: y holds "
                    f"{_scalar(y[wrong][0])!r}"
                )
            classes = list(range(self._num_classes))
        elif self._num_classes is not None and len(classes) != self._num_classes:
            raise TaskError(
                f"Received an invalid value for `y`: {len(classes)} classes "
                f"{_shown(classes)} for num_classes={self._num_classes}."
            )
        if len(classes) < 2:
            raise TaskError(
                "Received an invalid value for `y`: the multiclass task needs "
                f"at least 2 classes. Received: only {_shown(classes)}"
            )
        return Multiclass(class_names=classes)

    def encode(self, y, name="y"):
        return self._indices(y, name)

    def head(self, features):
        return keras.layers.Dense(
            self.num_classes, activation="softmax", name="classifier"
        )(features)

    def loss(self):
        return "sparse_categorical_crossentropy"

    def loss_fn(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    def make_metrics(self, prefix=""):
        return [
            keras.metrics.SparseCategoricalAccuracy(name=f"{prefix}accuracy"),
            *macro_metrics(self.num_classes, prefix),
        ]

    def summary(self):
        return f"{self.num_classes} classes"

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


class Binary(_ClassificationTask):
    """One of two classes: a single sigmoid unit, the second class positive.

    Args:
        class_names: The two classes `[negative, positive]`; `None` takes
            the two distinct labels given to `fit`, sorted.
    """

    name = "binary"
    encoded_dtype = np.dtype("float32")
    metric_names = (*_ClassificationTask.metric_names, "auc")
    maximised = (*_ClassificationTask.maximised, "auc")

    def __init__(self, class_names=None):
        super().__init__(class_names)
        if self.class_names is not None and len(self.class_names) != 2:
            raise ValueError(
                "Received an invalid value for `class_names`, expected two "
                f"classes. Received: class_names={self.class_names!r}"
            )

    @property
    def num_classes(self):
        return 2

    def fit(self, y):
        if self.fitted:
            return self
        y = _column(_as_array("y", y))
        classes = self._classes_of(y, "y")
        if len(classes) != 2:
            raise TaskError(
                "Received an invalid value for `task`: 'binary' needs labels "
                f"with exactly two distinct values, and these have "
                f"{len(classes)}: {_shown(classes)}. Received: task='binary'"
            )
        return Binary(class_names=classes)

    def encode(self, y, name="y"):
        return self._indices(y, name).astype("float32")[:, None]

    def head(self, features):
        return keras.layers.Dense(1, activation="sigmoid", name="classifier")(features)

    def loss(self):
        return "binary_crossentropy"

    def loss_fn(self, y_true, y_pred):
        return keras.losses.binary_crossentropy(
            keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), (-1, 1)), y_pred
        )

    def make_metrics(self, prefix=""):
        return [
            keras.metrics.BinaryAccuracy(name=f"{prefix}accuracy"),
            *macro_metrics(2, prefix),
            keras.metrics.AUC(name=f"{prefix}auc"),
        ]

    def summary(self):
        return f"binary ({self.class_names[0]!r} / {self.class_names[1]!r})" if (
            self.fitted
        ) else "binary"


class Regression(Task):
    """Numeric targets: linear units, mean squared error, MAE, RMSE and R².

    Args:
        targets: Number of targets per sample; `None` takes it from `fit`.
        target_mean: Per-target mean of the training targets (set by `fit`).
        target_std: Per-target standard deviation of the training targets
            (set by `fit`).
    """

    name = "regression"
    default_objective = "val_loss"
    metric_names = ("mae", "rmse", "r2")
    maximised = ("r2",)

    def __init__(self, targets=None, target_mean=None, target_std=None):
        if targets is not None:
            validation.check_positive_int("targets", targets)
        if (target_mean is None) != (target_std is None):
            raise ValueError(
                "Received invalid values for `target_mean` and `target_std`, "
                "expected both or neither. Received: "
                f"target_mean={target_mean!r}, target_std={target_std!r}"
            )
        if target_mean is not None:
            target_mean = [float(v) for v in np.ravel(target_mean)]
            target_std = [float(v) for v in np.ravel(target_std)]
            if len(target_mean) != len(target_std) or (
                targets is not None and targets != len(target_mean)
            ) or min(target_std) <= 0:
                raise ValueError(
                    "Received invalid values for `target_mean` and "
                    "`target_std`, expected one mean and one positive "
                    f"deviation per target. Received: target_mean={target_mean}, "
                    f"target_std={target_std}"
                )
            targets = len(target_mean)
        self.targets = targets
        self.target_mean = target_mean
        self.target_std = target_std

    @property
    def fitted(self):
        return self.target_mean is not None

    def _values(self, y, name):
        y = _as_array(name, y)
        if _label_kind(y) not in ("int", "float", "bool"):
            example = _shown(y.flat, 3)
            raise TaskError(
                f"Received an invalid value for `{name}`: the regression task "
                f"needs numeric targets, and these are of dtype {y.dtype} "
                f"(such as {example}); pass task='multiclass' or 'binary' "
                "for class labels."
            )
        y = y.astype("float32")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2:
            raise TaskError(
                f"Received an invalid value for `{name}`: regression targets "
                "must have shape (n,) or (n, targets). Received: "
                f"{name}.shape={y.shape}"
            )
        bad = ~np.isfinite(y)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            raise TaskError(
                f"Received an invalid value for `{name}`: {int(bad.sum())} "
                "regression targets are NaN or infinite, in rows "
                f"{_shown(rows)}."
            )
        if self.targets is not None and y.shape[1] != self.targets:
            raise TaskError(
                f"Received an invalid value for `{name}`: {y.shape[1]} targets "
                f"per sample for targets={self.targets}. Received: "
                f"{name}.shape={y.shape}"
            )
        return y

    def fit(self, y):
        if self.fitted:
            return self
        y = self._values(y, "y")
        std = y.std(axis=0)
        std = np.where(std > 1e-12 * np.maximum(np.abs(y).max(axis=0), 1.0), std, 1.0)
        return Regression(target_mean=y.mean(axis=0), target_std=std)

    def encode(self, y, name="y"):
        return self._values(y, name)

    def head(self, features):
        """Linear units, then the targets' mean and deviation put back.

        Before `fit` (one target unless `targets` says more), the mean is 0
        and the deviation 1.
        """
        targets = self.targets or 1
        mean = self.target_mean or [0.0] * targets
        std = self.target_std or [1.0] * targets
        units = keras.layers.Dense(targets, name="regression")(features)
        return keras.layers.Normalization(
            mean=mean,
            variance=[s * s for s in std],
            invert=True,
            name="target_units",
        )(units)

    def loss(self):
        return "mean_squared_error"

    def loss_fn(self, y_true, y_pred):
        return keras.losses.mean_squared_error(
            keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), keras.ops.shape(y_pred)),
            y_pred,
        )

    def make_metrics(self, prefix=""):
        return [
            keras.metrics.MeanAbsoluteError(name=f"{prefix}mae"),
            keras.metrics.RootMeanSquaredError(name=f"{prefix}rmse"),
            keras.metrics.R2Score(name=f"{prefix}r2"),
        ]

    def summary(self):
        count = self.targets or 1
        return f"regression, {count} target{'s' if count > 1 else ''}"

    def get_config(self):
        return {
            **super().get_config(),
            "targets": self.targets,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }


_CLASSES = {"multiclass": Multiclass, "binary": Binary, "regression": Regression}


def get_task(task, num_classes=None):
    """A `Task` from a name, a config dict, a `Task`, or a class count.

    Args:
        task: `"multiclass"`, `"binary"`, `"regression"`, a dict from
            `Task.get_config()`, a `Task`, or `None`.
        num_classes: With `task=None` or `"multiclass"`, the class count.

    Returns:
        A `Task`, or `None` when both arguments are `None`.

    Raises:
        ValueError: If `task` is not one of these forms.
    """
    if isinstance(task, Task):
        return task
    if task is None:
        return None if num_classes is None else Multiclass(num_classes)
    if isinstance(task, dict):
        config = dict(task)
        name = config.pop("name", None)
        if name not in _CLASSES:
            raise ValueError(
                f"Received an invalid value for `task`, expected a name among "
                f"{list(TASKS)}. Received: task={task!r}"
            )
        return _CLASSES[name](**config)
    validation.check_one_of("task", task, TASKS)
    if task == "multiclass":
        return Multiclass(num_classes)
    return _CLASSES[task]()


def detect_task(y):
    """Chooses a task from labels, and says why in a few words.

    - strings or Booleans: `binary` for two distinct values, else `multiclass`;
    - one-hot rows: `multiclass` (`binary` for two columns);
    - several numeric columns: `regression` with one target per column;
    - integers: `binary` for two distinct values, `multiclass` for up to
      `MAX_DETECTED_CLASSES`, else `regression`;
    - floats: `regression`, unless every value is a whole number and there
      are at most `MAX_DETECTED_FLOAT_CLASSES` of them (then as integers).

    Args:
        y: The labels of the whole data set.

    Returns:
        `(task, reason)`: an unfitted `Task` and a line such as
        `"float targets with 214 distinct values: regression"`.

    Raises:
        TaskError: If `y` is empty or of a type no task takes.
    """
    y = _as_array("y", y)
    if _is_one_hot(y):
        k = y.shape[1]
        task = Binary() if k == 2 else Multiclass(k)
        return task, f"one-hot labels with {k} columns: {task.name}"
    if y.ndim == 2 and y.shape[1] > 1:
        return Regression(), f"{y.shape[1]} numeric target columns: regression"
    y = _column(y)
    kind = _label_kind(y)
    if kind == "other" or y.ndim != 1:
        raise TaskError(
            "Received an invalid value for `y`: labels must be numbers, strings "
            f"or Booleans, one per sample. Received: dtype {y.dtype}, shape {y.shape}"
        )
    if kind == "float":
        finite = y[np.isfinite(y)]
        distinct = len(np.unique(finite))
        whole = len(finite) == len(y) and bool((finite == np.round(finite)).all())
        if not whole or distinct > MAX_DETECTED_FLOAT_CLASSES:
            return Regression(), f"float targets with {distinct} distinct values: regression"
        kind = "whole-number float"
    distinct = len(np.unique(y))
    if distinct == 2:
        return Binary(), f"{kind} labels with 2 distinct values: binary"
    if kind in ("text", "bool") or distinct <= MAX_DETECTED_CLASSES:
        return Multiclass(), f"{kind} labels with {distinct} classes: multiclass"
    return Regression(), f"{kind} targets with {distinct} distinct values: regression"


def evaluate(model, x, y, prefix="test_"):
    """The task's figures of a trained model on encoded labels.

    Args:
        model: A model compiled by its task (`Task.compile`).
        x: Inputs.
        y: Labels encoded by `task.encode`.
        prefix: Prefix of the returned names.

    Returns:
        A dict such as `{"test_loss": ..., "test_accuracy": ...}`; for
        regression also `test_mae`, `test_rmse` and `test_r2` (coefficient
        of determination, averaged over targets).
    """
    figures = model.evaluate(x, y, verbose=0, return_dict=True)
    return {f"{prefix}{k}": float(v) for k, v in figures.items()}

"""The data boundary: what a search, its export and its run folder see of the data.

`SearchData` holds the model inputs of the train, validation and test
splits (computed once by the data's front, see
`keras_nas.data.preprocessing`), the encoded labels, the task, the
modality and the front itself. `NASTuner.search` takes one as its data;
arrays and `tf.data.Dataset`s given to `search` are turned into one
(`from_arrays`, `from_datasets`).
"""

import dataclasses
import os
import uuid

import numpy as np

from keras_nas.validation import check_one_of
from keras_nas.data import preprocessing
from keras_nas.disk_arrays import GrowingArray
from keras_nas.disk_arrays import default_cache_dir
from keras_nas.data.memory import default_memory_budget
from keras_nas.data.modality import detect_modality

@dataclasses.dataclass(eq=False)
class SearchData:
    """Model inputs and labels of a search's splits, with the front that makes them.

    Attributes:
        name: Short name of the data set.
        x_train: Training model inputs.
        y_train: Training labels, as the task trains on them.
        x_val: Validation model inputs.
        y_val: Validation labels.
        x_test: Test model inputs, or `None`.
        y_test: Test labels, or `None`.
        task: The fitted `keras_nas.tasks.Task`, or `None` when the space's
            own task is fitted by the search.
        task_reason: Why this task.
        modality: One of `keras_nas.data.MODALITIES`.
        modality_reason: Why.
        front: The `keras.Model` from raw inputs to model inputs, or `None`.
        details: The loader's other facts (sample rate, files of each split).

    Example:

    ```python
    splits = keras_nas.data.load_dataset("reviews.csv")
    data = SearchData.from_splits(splits)
    space = keras_nas.spaces.get_space("mlp", data.spec.shape, task=data.task)
    tuner.search(data, epochs=5)
    ```
    """

    name: str
    x_train: np.ndarray = dataclasses.field(repr=False)
    y_train: np.ndarray = dataclasses.field(repr=False)
    x_val: np.ndarray = dataclasses.field(repr=False)
    y_val: np.ndarray = dataclasses.field(repr=False)
    x_test: object = dataclasses.field(default=None, repr=False)
    y_test: object = dataclasses.field(default=None, repr=False)
    task: object = dataclasses.field(default=None, repr=False)
    task_reason: str = ""
    modality: str = "tabular"
    modality_reason: str = ""
    front: object = dataclasses.field(default=None, repr=False)
    details: dict = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_splits(cls, splits, front=None, text_output="tf_idf"):
        """The search data of a `DatasetSplits` of raw inputs.

        The front of the splits' modality is fitted on the training inputs
        (the text vocabulary and its document frequencies), unless `front`
        (a run's or an export's) is given, and computes the model inputs of
        every split once.

        Args:
            splits: A `keras_nas.data.DatasetSplits`.
            front: A fitted front to use, or `None`.
            text_output: What text becomes: `"tf_idf"` vectors (the `mlp`
                space's inputs) or `"int"` word ids (the `sequence`
                space's).
        """
        return cls.from_raw(
            splits.name, splits.modality, splits.modality_reason,
            (splits.x_train, splits.y_train), (splits.x_val, splits.y_val),
            (splits.x_test, splits.y_test), task=splits.task,
            task_reason=splits.task_reason, details=splits.details, front=front,
            text_output=text_output,
        )

    @classmethod
    def from_datasets(cls, train, validation, memory_budget=None, name="dataset",
                      cache_dir=None, text_output="tf_idf"):
        """The search data of two `tf.data.Dataset`s of `(x, y)` batches.

        Both are read once, batch by batch: into memory up to
        `memory_budget` bytes, into `.npy` files of `cache_dir` beyond it
        (`keras_nas.disk_arrays`), which trials then read a batch at a
        time and child-process trials re-open; images of 0..255 (such as
        Keras's `image_dataset_from_directory` yields) are kept as uint8,
        rounded. Labels are class names when the dataset
        has `class_names` (as Keras's folder loaders give). The modality is
        detected from the training inputs and its front fitted on them.

        Args:
            train: The training dataset.
            validation: The validation dataset.
            memory_budget: The most bytes the data may take in memory;
                `None` for `default_memory_budget()`. The training split
                gets three quarters of it, the validation split the rest.
            name: Short name of the data.
            cache_dir: The folder of the files beyond the budget (named
                `x-x.npy`, `x-y.npy`, `validation_data-x.npy`, ..., replaced
                by a later read); `None` for a new folder in
                `keras_nas.disk_arrays.default_cache_dir()`.
            text_output: What text becomes, as in `from_splits`.

        Raises:
            ValueError: If a dataset does not yield `(x, y)` pairs.
        """
        budget = default_memory_budget() if memory_budget is None else memory_budget
        folder = cache_dir or os.path.join(
            default_cache_dir(), f"datasets-{uuid.uuid4().hex[:12]}"
        )
        train = _read_dataset(train, "x", budget * 3 // 4, folder)
        validation = _read_dataset(validation, "validation_data", budget // 4, folder)
        modality, reason = detect_modality(train[0])
        return cls.from_raw(name, modality, reason, train, validation,
                            text_output=text_output)

    @classmethod
    def from_raw(cls, name, modality, modality_reason, train, validation,
                 test=(None, None), *, task=None, task_reason="", details=None,
                 front=None, text_output="tf_idf"):
        """The search data of raw `(x, y)` splits of one modality.

        Args:
            name: Short name of the data.
            modality: One of `keras_nas.data.MODALITIES`.
            modality_reason: Why.
            train: `(x, y)` of the training split, raw inputs.
            validation: `(x, y)` of the validation split.
            test: `(x, y)` of the test split, or `(None, None)`.
            task: The fitted task, or `None` for the space's own.
            task_reason: Why this task.
            details: The loader's other facts.
            front: A fitted front to use; `None` to fit one on `train`.
            text_output: What a fitted text front gives, one of
                `keras_nas.data.preprocessing.TEXT_OUTPUTS`.
        """
        check_one_of("text_output", text_output,
                                preprocessing.TEXT_OUTPUTS)
        if front is None:
            front = preprocessing.build_front(
                modality, train[0], (details or {}).get("sample_rate"), text_output
            )

        def inputs(x):
            return None if x is None else preprocessing.model_inputs(front, x)

        return cls(
            name=name,
            x_train=inputs(train[0]), y_train=train[1],
            x_val=inputs(validation[0]), y_val=validation[1],
            x_test=inputs(test[0]), y_test=test[1],
            task=task, task_reason=task_reason, modality=modality,
            modality_reason=modality_reason, front=front,
            details=dict(details or {}),
        )

    @property
    def spec(self):
        """The `keras_nas.data.InputSpec` of the model inputs."""
        return preprocessing.model_input_spec(self.modality, self.x_train)

    @property
    def input_shape(self):
        """The shape of one model input."""
        return tuple(self.x_train.shape[1:])

    def summary(self):
        """One line: the name, split sizes, model input shape and task."""
        test = "" if self.y_test is None else f" / {len(self.y_test):,} test"
        task = "" if self.task is None else f", {self.task.summary()}"
        return (
            f"{self.name}: {len(self.y_train):,} train / {len(self.y_val):,} val"
            f"{test}, input {self.input_shape}{task}"
        )

    def fit_arguments(self):
        """`(args, kwargs)` of `model.fit` on the training and validation splits."""
        return (self.x_train, self.y_train), {
            "validation_data": (self.x_val, self.y_val)
        }


def _read_dataset(dataset, name, budget, folder):
    """Reads a dataset of `(x, y)` batches into two arrays, in memory within
    the budget, else in files of `folder`."""
    stem = os.path.join(folder, name)
    xs = GrowingArray(budget, stem + "-x.npy")
    ys = GrowingArray(budget // 8, stem + "-y.npy")
    try:
        for element in dataset.as_numpy_iterator():
            if not isinstance(element, tuple) or len(element) != 2:
                raise ValueError(
                    f"Received an invalid value for `{name}`: a tf.data.Dataset "
                    f"of (x, y) batches is expected. Received: elements of type "
                    f"{type(element).__name__}"
                )
            xs.append(_as_images(element[0]))
            ys.append(np.asarray(element[1]))
        x, y = xs.finish(), ys.finish()
    except BaseException:
        xs.discard()
        ys.discard()
        raise
    if x is None:
        raise ValueError(
            f"Received an invalid value for `{name}`: the tf.data.Dataset "
            "yields no batches."
        )
    names = getattr(dataset, "class_names", None)
    if names and y.ndim == 1 and y.dtype.kind in "iu":
        y = np.asarray(names)[y]
    return x, y


def _as_images(x):
    """Batches of images of 0..255 as uint8, rounded; others unchanged."""
    if x.ndim == 4 and x.dtype.kind == "f" and x.size and x.min() >= 0 and (
        1.5 < x.max() <= 255
    ):
        return np.round(x).astype("uint8")
    return x

"""What `NASTuner.search` does with its data before the first trial.

`search_data_of` turns `search`'s arguments into the data boundary
(`SearchData`) when they are one or are `tf.data.Dataset`s; `fit_space`
fits a space to array data: the task's classes or target statistics, the
feature normalisation, and the labels encoded as the task trains on them.
"""

import tensorflow as tf

from keras_nas import validation
from keras_nas.data.search_data import SearchData


def search_data_of(fit_args, fit_kwargs, memory_budget, cache_dir,
                   text_output="tf_idf"):
    """The `SearchData` of `search`'s arguments, or `None` for arrays.

    Args:
        fit_args: `search`'s positional arguments.
        fit_kwargs: Its keyword arguments.
        memory_budget: Bytes `tf.data.Dataset`s may take in memory; `None`
            for the default share of the RAM.
        cache_dir: Where `tf.data.Dataset`s beyond it are written.
        text_output: What the text of `tf.data.Dataset`s becomes (the
            space's `text_output`).

    Raises:
        ValueError: If `x` is a `tf.data.Dataset` and `validation_data` is not.
    """
    x, _ = validation.fit_data(fit_args, fit_kwargs)
    if isinstance(x, SearchData):
        return x
    if isinstance(x, tf.data.Dataset):
        validation_data = fit_kwargs.get("validation_data")
        if not isinstance(validation_data, tf.data.Dataset):
            raise ValueError(
                "Received an invalid value for `validation_data`: with a "
                "tf.data.Dataset `x`, a tf.data.Dataset of validation "
                "batches is needed. Received: validation_data of type "
                f"{type(validation_data).__name__}"
            )
        return SearchData.from_datasets(
            x, validation_data, memory_budget, cache_dir=cache_dir,
            text_output=text_output,
        )
    return None


def fit_space(space, fit_args, fit_kwargs):
    """Checks the data, fits the space to it, encodes the labels.

    The space's task records its classes (or target statistics) and the
    space its feature normalisation, from the training split; labels
    become what the task's models train on (class indices, 0/1, float
    targets). Labels already encoded by the task (those of a
    `DatasetSplits` from `load_dataset`, with `data.task` as the space's
    task) are kept as they are: `Task.encode` is idempotent.

    Args:
        space: The `keras_nas.spaces.SearchSpace` searched.
        fit_args: `search`'s positional arguments.
        fit_kwargs: Its keyword arguments.

    Returns:
        `(fit_args, fit_kwargs, x)`: the arguments with the labels encoded,
        and the training inputs the space was fitted on (`None` when there
        are no labels to fit on, as for a generator).

    Raises:
        ValueError: If the data does not fit the space, or the space must
            normalise inputs that come without labels.
    """
    fit_args, fit_kwargs = list(fit_args), dict(fit_kwargs)
    validation.check_fit_data(space, fit_args, fit_kwargs)
    x, y = validation.fit_data(fit_args, fit_kwargs)
    if y is None:
        if space.normalize and space.normalization is None:
            raise ValueError(
                "Received an invalid value for `x`: the space normalises "
                "its inputs, which needs NumPy arrays `x` and `y` to fit "
                "the statistics on (or pass normalize=False to the space). "
                f"Received: x of type {type(x).__name__}"
            )
        return fit_args, fit_kwargs, None
    space.adapt(x, y)
    y = space.task.encode(y, "y")
    if len(fit_args) > 1:
        fit_args[1] = y
    else:
        fit_kwargs["y"] = y
    validation_data = fit_kwargs.get("validation_data")
    if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
        fit_kwargs["validation_data"] = (
            validation_data[0],
            space.task.encode(validation_data[1], "validation_data[1]"),
            *validation_data[2:],
        )
    return fit_args, fit_kwargs, x

"""Batches of file-backed arrays for `model.fit`, `predict` and `evaluate`.

Keras turns NumPy arrays given to `fit` into one tensor, which would read a
file-backed array (`keras_nas.disk_arrays`) whole into memory.
`RowBatches` instead reads each batch's rows from the files when Keras asks
for it; `fit_arguments` and `model_input` swap it in only where an array
is file-backed, so data within the memory budget trains exactly as before.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_nas.disk_arrays import on_disk, read_rows

DEFAULT_BATCH_SIZE = 32
"""`model.fit`'s own default batch size."""


class RowBatches(keras.utils.PyDataset):
    """Batches of rows of one or more `(x, y)` parts, joined end to end.

    Args:
        parts: A list of `(x, y)` pairs (`y` may be `None` for inputs only),
            arrays in memory or in files, read as one data set.
        batch_size: Rows per batch.
        shuffle: Whether each epoch visits the rows in a new random order
            (the rows of one batch are read in file order).
        seed: Seed of the shuffling.
    """

    def __init__(self, parts, batch_size=DEFAULT_BATCH_SIZE, shuffle=False, seed=0):
        super().__init__()
        self.parts = [(x, y) for x, y in parts]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._starts = np.cumsum([0] + [len(x) for x, _ in self.parts])
        self._order = np.arange(self._starts[-1])
        self.on_epoch_end()

    def __len__(self):
        return -(-int(self._starts[-1]) // self.batch_size)

    def __getitem__(self, index):
        rows = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        part_of = np.searchsorted(self._starts, rows, side="right") - 1
        xs, ys = [], []
        for part in np.unique(part_of):
            x, y = self.parts[part]
            local = rows[part_of == part] - self._starts[part]
            xs.append(read_rows(x, local))
            if y is not None:
                ys.append(read_rows(y, local))
        x = np.concatenate(xs) if len(xs) > 1 else xs[0]
        if not ys:
            return (x,)
        return x, (np.concatenate(ys) if len(ys) > 1 else ys[0])

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(self._starts[-1])


def fit_arguments(fit_args, fit_kwargs, seed=0):
    """`fit` arguments with file-backed arrays read as `RowBatches`.

    The training pair becomes shuffled batches of `batch_size` (then
    dropped, as Keras wants for a `PyDataset`); a validation pair becomes
    batches in order. `shuffle` is dropped with `batch_size`. Arguments
    without a file-backed array are returned unchanged.
    """
    fit_args, fit_kwargs = list(fit_args), dict(fit_kwargs)
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
    validation_data = fit_kwargs.get("validation_data")
    pair = isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
    if not on_disk(x) and not (pair and on_disk(validation_data[0])):
        return fit_args, fit_kwargs
    batch_size = fit_kwargs.get("batch_size") or DEFAULT_BATCH_SIZE
    if on_disk(x):
        for key in ("batch_size", "shuffle", "x", "y"):
            fit_kwargs.pop(key, None)
        fit_args = [RowBatches([(x, y)], batch_size, shuffle=True, seed=seed),
                    *fit_args[2:]]
    if pair and on_disk(validation_data[0]):
        fit_kwargs["validation_data"] = RowBatches([tuple(validation_data)], batch_size)
    return fit_args, fit_kwargs


def joined(train, validation_data, batch_size=DEFAULT_BATCH_SIZE, seed=0):
    """Training and validation `(x, y)` as one: concatenated arrays in
    memory, or `(RowBatches, None)` when either is file-backed."""
    if on_disk(train[0]) or on_disk(validation_data[0]):
        return RowBatches([tuple(train[:2]), tuple(validation_data[:2])],
                          batch_size, shuffle=True, seed=seed), None
    return (np.concatenate([train[0], validation_data[0]]),
            np.concatenate([train[1], validation_data[1]]))


def model_input(x, batch_size=DEFAULT_BATCH_SIZE):
    """`x` for `model.predict`: batches of its rows when it is file-backed."""
    return RowBatches([(x, None)], batch_size) if on_disk(x) else x


def labelled(x, y, batch_size=DEFAULT_BATCH_SIZE):
    """`(x, y)` for `evaluate` or `validation_data`: `(RowBatches, None)`
    when `x` is file-backed, else as they are."""
    return (RowBatches([(x, y)], batch_size), None) if on_disk(x) else (x, y)


def repeated_dataset(x, y, batch_size, seed):
    """A `tf.data.Dataset` of `(x, y)` batches, reshuffled each pass, without end.

    File-backed arrays are read a batch at a time (`RowBatches`); arrays in
    memory are sliced by `tf.data`.
    """
    if not on_disk(x):
        return (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE)
        )
    rows = RowBatches([(x, y)], batch_size, shuffle=True, seed=seed)

    def passes():
        while True:
            for index in range(len(rows)):
                yield rows[index]
            rows.on_epoch_end()

    signature = tuple(
        tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in (x, y)
    )
    return tf.data.Dataset.from_generator(
        passes, output_signature=signature
    ).prefetch(tf.data.AUTOTUNE)

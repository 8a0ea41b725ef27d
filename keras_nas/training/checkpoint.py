"""`BestWeights`: keep a trial's best epoch in memory, write it once.

The checkpoint is written durably (`keras_nas.files.save_weights_atomically`),
so a trial whose file says COMPLETED always has a whole checkpoint; reading
one that is missing or damaged raises `CorruptCheckpointError`, naming it.
"""

import contextlib
import os

import keras
import tensorflow as tf

from keras_nas.training.failures import build_trial_model
from keras_nas.formatting import first_line
from keras_nas.files import CorruptFileError
from keras_nas.files import read_json
from keras_nas.files import save_weights_atomically


class CorruptCheckpointError(CorruptFileError):
    """A trial's checkpoint is missing, damaged, or of another architecture.

    A `ValueError` (through `keras_nas.files.CorruptFileError`).

    Args:
        path: The checkpoint file.
        detail: What is wrong with it (one line).
        missing: Whether the file does not exist.

    Attributes:
        path: As given.
        detail: As given.
        missing: As given.
    """

    def __init__(self, path, detail, missing=False):
        super().__init__(path, detail)
        self.missing = missing
        state = "is missing" if missing else "is corrupt"
        self.args = (f"The checkpoint {self.path} {state} ({self.detail}).",)

    def __reduce__(self):
        return type(self), (self.path, self.detail, self.missing)


class BestWeights(keras.callbacks.Callback):
    """Remembers the weights of the best epoch and saves them at the end.

    KerasTuner's own checkpoint writes an HDF5 file at every improving
    epoch; this callback copies the weights in memory instead and writes the
    file once, when training ends, which keeps the per-trial overhead low.

    Args:
        objective: The `keras_tuner.Objective` that ranks epochs.
        filepath: Where to write the weights (a `.weights.h5` path).
    """

    def __init__(self, objective, filepath):
        super().__init__()
        self.objective = objective
        self.filepath = filepath
        self.best_value = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not self.objective.has_value(logs):
            self.best_weights = self.model.get_weights()
            return
        value = self.objective.get_value(logs)
        if self.best_value is None or self.objective.better_than(
            value, self.best_value
        ):
            self.best_value = value
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        save_weights_atomically(self.model, self.filepath)


def restore_weights(model, filepath):
    """Loads weights saved by `BestWeights` into a freshly built model.

    The optimizer's variables are created first, so that its saved state is
    restored too rather than skipped.

    Args:
        model: A compiled model of the same architecture.
        filepath: The `.weights.h5` file.

    Returns:
        The model.

    Raises:
        CorruptCheckpointError: If `filepath` is missing, is not a whole
            weights file, or holds the weights of another architecture.
    """
    filepath = os.fspath(filepath)
    if not tf.io.gfile.exists(filepath):
        raise CorruptCheckpointError(
            filepath, "no such file: the trial's training never wrote it, or "
            "it was deleted", missing=True,
        )
    if model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(filepath)
    except (OSError, KeyError, RuntimeError) as error:
        # h5py: "Unable to synchronously open file (truncated file ...)".
        raise CorruptCheckpointError(filepath, first_line(error)) from None
    except ValueError as error:
        raise CorruptCheckpointError(
            filepath, "it does not hold this architecture's weights: "
            + first_line(error),
        ) from None
    return model


def load_trial_model(build, hp, build_config_path, checkpoint_path, scope=None):
    """Rebuilds a trial's model and loads the weights its training saved.

    A model that `build` leaves unbuilt is built from the config saved by
    the trial (KerasTuner's `build_config`) before the weights are loaded.

    Args:
        build: Function from `hp` to the compiled model (see
            `keras_nas.training.failures.build_trial_model`).
        hp: The trial's `keras_tuner.HyperParameters`.
        build_config_path: The trial's build-config JSON file.
        checkpoint_path: The `.weights.h5` file `BestWeights` wrote.
        scope: A context manager factory under which the weights are
            loaded (a distribution strategy's `scope`), or `None`.

    Returns:
        The model.

    Raises:
        CorruptCheckpointError: If the checkpoint cannot be loaded.
        keras_nas.files.CorruptFileError: If the build config is not JSON.
    """
    model = build_trial_model(build, hp)
    if not model.built:
        model.build_from_config(read_json(build_config_path))
    with scope() if scope is not None else contextlib.nullcontext():
        return restore_weights(model, checkpoint_path)

"""`BestWeights`: keep a trial's best epoch in memory, write it once."""

import contextlib
import json

import keras

from keras_nas.engine.failures import build_trial_model


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
        self.model.save_weights(self.filepath)


def restore_weights(model, filepath):
    """Loads weights saved by `BestWeights` into a freshly built model.

    The optimizer's variables are created first, so that its saved state is
    restored too rather than skipped.

    Args:
        model: A compiled model of the same architecture.
        filepath: The `.weights.h5` file.

    Returns:
        The model.
    """
    if model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(filepath)
    return model


def load_trial_model(build, hp, build_config_path, checkpoint_path, scope=None):
    """Rebuilds a trial's model and loads the weights its training saved.

    A model that `build` leaves unbuilt is built from the config saved by
    the trial (KerasTuner's `build_config`) before the weights are loaded.

    Args:
        build: Function from `hp` to the compiled model (see
            `keras_nas.engine.failures.build_trial_model`).
        hp: The trial's `keras_tuner.HyperParameters`.
        build_config_path: The trial's build-config JSON file.
        checkpoint_path: The `.weights.h5` file `BestWeights` wrote.
        scope: A context manager factory under which the weights are
            loaded (a distribution strategy's `scope`), or `None`.

    Returns:
        The model.
    """
    model = build_trial_model(build, hp)
    if not model.built:
        with open(build_config_path) as f:
            model.build_from_config(json.load(f))
    with scope() if scope is not None else contextlib.nullcontext():
        return restore_weights(model, checkpoint_path)

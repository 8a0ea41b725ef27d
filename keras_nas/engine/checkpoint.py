"""`BestWeights`: keep a trial's best epoch in memory, write it once."""

import keras


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

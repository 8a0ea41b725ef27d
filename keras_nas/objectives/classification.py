"""Macro-averaged precision, recall and F1 as streaming Keras metrics.

Each metric accumulates a confusion matrix over the batches of an epoch
(so the figure is the epoch's, not an average of batch figures, and it
sums across replicas under `tf.distribute`) and averages the per-class
scores over the classes that occur in the labels or the predictions, as
scikit-learn's `average="macro"` does; a class never predicted has
precision 0 (scikit-learn's `zero_division=0`). Labels are class indices;
predictions are class probabilities (`num_classes` columns) or, for a
binary task, one probability of class 1 (`num_classes=2`, threshold 0.5).
The metrics are registered with Keras (package `keras_nas`), so a model
compiled with them saves to and loads from a `.keras` file.
"""

import keras
from keras import ops


class _MacroScore(keras.metrics.Metric):
    """Base: the confusion matrix and the macro average of `_per_class`."""

    def __init__(self, num_classes, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_classes < 2:
            raise ValueError(
                "Received an invalid value for `num_classes`, expected at "
                f"least 2. Received: num_classes={num_classes!r}"
            )
        self.num_classes = int(num_classes)
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            name="confusion",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        n = self.num_classes
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        if ops.shape(y_pred)[-1] == 1:
            predicted = ops.cast(ops.reshape(y_pred, (-1,)) > 0.5, "int32")
        else:
            predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weights = (
            ops.ones_like(y_true, dtype=self.dtype)
            if sample_weight is None
            else ops.cast(ops.reshape(sample_weight, (-1,)), self.dtype)
        )
        cells = ops.one_hot(y_true * n + predicted, n * n, dtype=self.dtype)
        counts = ops.sum(cells * weights[:, None], axis=0)
        self.confusion.assign_add(ops.reshape(counts, (n, n)))

    def result(self):
        true_positives = ops.diagonal(self.confusion)
        actual = ops.sum(self.confusion, axis=1)
        predicted = ops.sum(self.confusion, axis=0)
        scores = self._per_class(true_positives, actual, predicted)
        present = ops.cast((actual + predicted) > 0, self.dtype)
        return ops.sum(scores * present) / ops.maximum(ops.sum(present), 1.0)

    def _per_class(self, true_positives, actual, predicted):
        raise NotImplementedError

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def _ratio(numerator, denominator):
    return ops.where(denominator > 0, numerator / ops.maximum(denominator, 1e-12), 0.0)


@keras.saving.register_keras_serializable(package="keras_nas")
class MacroPrecision(_MacroScore):
    """Macro-averaged precision: of the samples predicted as a class, the share that is."""

    def __init__(self, num_classes, name="precision", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def _per_class(self, true_positives, actual, predicted):
        return _ratio(true_positives, predicted)


@keras.saving.register_keras_serializable(package="keras_nas")
class MacroRecall(_MacroScore):
    """Macro-averaged recall: of the samples of a class, the share predicted as it."""

    def __init__(self, num_classes, name="recall", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def _per_class(self, true_positives, actual, predicted):
        return _ratio(true_positives, actual)


@keras.saving.register_keras_serializable(package="keras_nas")
class MacroF1(_MacroScore):
    """Macro-averaged F1: per class, the harmonic mean of precision and recall."""

    def __init__(self, num_classes, name="f1", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def _per_class(self, true_positives, actual, predicted):
        return _ratio(2.0 * true_positives, actual + predicted)


def macro_metrics(num_classes, prefix=""):
    """New macro precision, recall and F1 metrics, named `prefix` + each."""
    return [
        MacroPrecision(num_classes, name=f"{prefix}precision"),
        MacroRecall(num_classes, name=f"{prefix}recall"),
        MacroF1(num_classes, name=f"{prefix}f1"),
    ]

"""Keras layers of `SequenceNet`: padding masks, positions and reductions.

Text arrives as word ids padded with 0 at the end (Keras's
`TextVectorization`); `Keep` marks the steps that hold a word, and the
layers below take that `keep` (a `(batch, steps)` bool tensor, or `None` for
inputs without padding: audio frames, series) so that padding is neither
attended to nor pooled. Each layer states its multiply-adds of one
inference (`multiply_adds`, read by `keras_nas.objectives.flops`).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_nas import validation

REDUCTIONS = ("avg", "max", "attention", "last")
"""How `Reduce` turns `(batch, steps, features)` into `(batch, features)`."""
POSITIONS = ("none", "sinusoidal", "learned")
"""What `Positions` adds: nothing, fixed sines and cosines (Vaswani et al.,
2017), or one learned vector per step."""


@keras.saving.register_keras_serializable(package="keras_nas")
class Keep(keras.layers.Layer):
    """Which steps of padded word ids hold a word: `ids != 0`."""

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="bool")

    def multiply_adds(self):
        return 0


def pooled_keep(keep):
    """`keep` after pooling two steps into one (an odd last step dropped, as
    `MaxPooling1D(2)` does): a pooled step is kept when either step is."""
    steps = (keep.shape[1] // 2) * 2
    return ops.any(ops.reshape(keep[:, :steps], (-1, steps // 2, 2)), axis=-1)


@keras.saving.register_keras_serializable(package="keras_nas")
class PoolKeep(keras.layers.Layer):
    """The `keep` of a sequence after `MaxPooling1D(2)`: a pooled step is
    kept when either of its two steps is."""

    def call(self, keep):
        return pooled_keep(keep)

    def compute_output_spec(self, keep):
        return keras.KerasTensor((keep.shape[0], keep.shape[1] // 2), dtype="bool")

    def multiply_adds(self):
        return 0


@keras.saving.register_keras_serializable(package="keras_nas")
class MaskedMaxPooling(keras.layers.Layer):
    """Max pooling of two steps into one that takes kept steps only.

    A pooled step of a kept and a padded step is the kept one's value; one
    of two padded steps is 0. Padding (whose values after attention or
    recurrence depend on how much of it there is) thus never reaches the
    kept steps.
    """

    def call(self, inputs, keep):
        steps = (inputs.shape[1] // 2) * 2
        kept = keep[:, :steps, None]
        values = ops.where(kept, inputs[:, :steps], -1e9)
        pairs = ops.reshape(values, (-1, steps // 2, 2, inputs.shape[2]))
        return ops.where(pooled_keep(keep)[:, :, None], ops.max(pairs, axis=2), 0.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // 2, input_shape[2])

    def multiply_adds(self):
        return 0


@keras.saving.register_keras_serializable(package="keras_nas")
class AttentionMask(keras.layers.Layer):
    """`(batch, steps, steps)` attention mask: key steps that are kept."""

    def call(self, keep):
        return ops.logical_and(keep[:, :, None], keep[:, None, :])

    def compute_output_spec(self, keep):
        return keras.KerasTensor((keep.shape[0], keep.shape[1], keep.shape[1]),
                                 dtype="bool")

    def multiply_adds(self):
        return 0


@keras.saving.register_keras_serializable(package="keras_nas")
class Positions(keras.layers.Layer):
    """Adds position information to `(batch, steps, features)` inputs.

    Args:
        kind: One of `POSITIONS`.
    """

    def __init__(self, kind="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        self.kind = validation.check_one_of("kind", kind, POSITIONS)

    def build(self, input_shape):
        steps, features = input_shape[1], input_shape[2]
        if self.kind == "learned":
            self.table = self.add_weight(
                shape=(steps, features), initializer="random_normal", name="table"
            )
        elif self.kind == "sinusoidal":
            self.table = _sinusoids(steps, features)

    def call(self, inputs):
        if self.kind == "none":
            return inputs
        return inputs + ops.cast(self.table, inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def multiply_adds(self):
        return 0

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def _sinusoids(steps, features):
    """The fixed position table of Vaswani et al. (2017), `(steps, features)`."""
    position = np.arange(steps)[:, None]
    rate = np.exp(-math.log(10_000.0) * (np.arange(0, features, 2) / features))
    table = np.zeros((steps, features), "float32")
    table[:, 0::2] = np.sin(position * rate)
    table[:, 1::2] = np.cos(position * rate)[:, : features // 2]
    return table


@keras.saving.register_keras_serializable(package="keras_nas")
class Reduce(keras.layers.Layer):
    """`(batch, steps, features)` to `(batch, features)` over the kept steps.

    `avg`: the mean; `max`: the largest value; `attention`: a softmax-
    weighted mean whose weights a learned vector scores (attention pooling,
    as in Raffel & Ellis, 2015); `last`: the last kept step (the last step
    of unpadded inputs).

    Args:
        mode: One of `REDUCTIONS`.
    """

    def __init__(self, mode="avg", **kwargs):
        super().__init__(**kwargs)
        self.mode = validation.check_one_of("mode", mode, REDUCTIONS)

    def build(self, input_shape):
        self.steps, self.features = input_shape[1], input_shape[2]
        if self.mode == "attention":
            self.score = self.add_weight(
                shape=(input_shape[-1], 1), initializer="glorot_uniform", name="score"
            )

    def call(self, inputs, keep=None):
        steps = ops.shape(inputs)[1]
        if keep is None:
            keep = ops.ones((ops.shape(inputs)[0], steps), dtype="bool")
        weights = ops.cast(keep, inputs.dtype)[:, :, None]
        if self.mode == "avg":
            total = ops.sum(inputs * weights, axis=1)
            return total / ops.maximum(ops.sum(weights, axis=1), 1.0)
        if self.mode == "max":
            return ops.max(ops.where(weights > 0, inputs, -1e9), axis=1)
        if self.mode == "attention":
            scores = ops.matmul(inputs, ops.cast(self.score, inputs.dtype))
            scores = ops.where(weights > 0, scores, -1e9)
            attention = ops.transpose(ops.softmax(scores, axis=1), (0, 2, 1))
            return ops.matmul(attention, inputs)[:, 0]
        last = ops.maximum(ops.sum(ops.cast(keep, "int32"), axis=1) - 1, 0)
        return ops.take_along_axis(inputs, last[:, None, None], axis=1)[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def multiply_adds(self):
        if self.mode != "attention":
            return 0
        return 2 * self.steps * self.features  # The scores, then the weighted sum.

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

"""`MixedOp`: the softmax-weighted sum of one decision's candidate operations."""

import keras
from keras import ops

from keras_nas.layers import Zeros


@keras.saving.register_keras_serializable(package="keras_nas")
class MixedOp(keras.layers.Layer):
    """The DARTS mixed operation of one decision (Liu et al., ICLR 2019).

    Holds one sub-layer per candidate operation and returns
    `sum_k w[k] * candidate_k(x)`, where `w` are the softmax weights of the
    decision's architecture logits. The layer owns no architecture variable:
    the weights come in as a second input, so that several mixed operations
    (the same edge in every cell) can share one decision, and so that the
    logits stay outside the network's trainable variables. A `Zeros`
    candidate (the `none` operation) contributes nothing and is not run.

    Args:
        operations: Names of the candidate operations, in the order of the
            weights (the decision's values).
        candidates: One layer per operation, each mapping an input to an
            output of the same shape.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: The input tensor, batch first.
        op_weights: The operation weights, shape `(batch, len(operations))`
            (the same row repeated: the softmax of the decision's logits).
        training: Passed to the candidates (batch normalisation).

    Example:

    ```python
    x = keras.Input((8, 8, 4))
    w = keras.Input((2,))
    mixed = MixedOp(["skip", "conv"], [keras.layers.Identity(),
                                      keras.layers.Conv2D(4, 3, padding="same")])
    y = mixed(x, w)
    ```
    """

    def __init__(self, operations, candidates, **kwargs):
        super().__init__(**kwargs)
        operations = list(operations)
        candidates = list(candidates)
        if not operations or any(not isinstance(op, str) for op in operations):
            raise ValueError(
                "Received an invalid value for `operations`, expected a "
                f"non-empty list of operation names. Received: "
                f"operations={operations!r}"
            )
        if len(candidates) != len(operations):
            raise ValueError(
                "Received an invalid value for `candidates`, expected one layer "
                f"per operation ({len(operations)}). Received: "
                f"{len(candidates)} candidates"
            )
        self.operations = operations
        self.candidates = candidates

    def build(self, inputs_shape, op_weights_shape=None):
        for candidate in self.candidates:
            if not candidate.built:
                candidate.build(inputs_shape)
        self.built = True

    def call(self, inputs, op_weights, training=None):
        op_weights = ops.cast(op_weights, inputs.dtype)
        broadcast = (-1,) + (1,) * (len(inputs.shape) - 1)
        output = None
        for k, candidate in enumerate(self.candidates):
            if isinstance(candidate, Zeros):
                continue
            term = ops.reshape(op_weights[:, k], broadcast) * candidate(
                inputs, training=training
            )
            output = term if output is None else output + term
        return ops.zeros_like(inputs) if output is None else output

    def compute_output_shape(self, inputs_shape, op_weights_shape=None):
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "operations": list(self.operations),
            "candidates": [
                keras.saving.serialize_keras_object(c) for c in self.candidates
            ],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["candidates"] = [
            keras.saving.deserialize_keras_object(c) for c in config["candidates"]
        ]
        return cls(**config)


def candidate_layer(input_shape, build_fn, name=None):
    """Wraps a space's functional building code as one candidate layer.

    Args:
        input_shape: Shape of the candidate's input, without the batch axis.
        build_fn: Function from a symbolic input to the operation's output
            (the space's own building code, from its supernet); it may
            return `None` for the zero operation or its input for identity.
        name: Optional name of the candidate model.

    Returns:
        A `Zeros` layer, a `keras.layers.Identity`, or a functional
        `keras.Model` holding the operation's layers.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    outputs = build_fn(inputs)
    if outputs is None:
        return Zeros(name=name)
    if outputs is inputs:
        return keras.layers.Identity(name=name)
    return keras.Model(inputs, outputs, name=name)
